"""Bearer tokens with roles: the one implementation behind every SAM-X HTTP API (labeling, serving).

A service's tokens are one setting (``SAMX_<SERVICE>_TOKENS``): a JSON mapping ``token -> {user, role}``,
inline or in a file (a Kubernetes Secret mounted as a file). There is no default, and tokens that are
short or well-known placeholders are refused, so a demo token never reaches a hospital.

A running service keeps only the tokens' SHA-256 digests (``TokenTable``): a request's token is hashed
and looked up, so no secret is compared character by character, and a table that ends up in a config,
a log or a Ray object gives no token away."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import IntEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, RootModel, StringConstraints, ValidationError

MIN_TOKEN_LENGTH = 16
_PLACEHOLDERS = frozenset({"changethis", "changeme", "token", "secret", "password", "admin", "test"})
_MIN_DISTINCT_CHARACTERS = 6  # 'aaaaaaaaaaaaaaaa' is long enough and still a placeholder


class Role(IntEnum):
    """Ordered: each role may do what the ones below it may."""

    viewer = 1
    labeler = 2
    admin = 3


class TokenGrant(BaseModel):
    """Who holds a token and what it may do."""

    user: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: str = Field(pattern=r"^(viewer|labeler|admin)$")

    @property
    def level(self) -> Role:
        return Role[self.role]

    def allows(self, role: Role) -> bool:
        """The role check of a route: this grant's role is ``role`` or one above it."""
        return self.level >= role


def token_digest(token: str) -> str:
    """What a table is keyed by: a lookup hashes the presented token instead of comparing secrets."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_placeholder(token: str) -> bool:
    return len(token) < MIN_TOKEN_LENGTH or token.lower() in _PLACEHOLDERS or len(set(token)) < _MIN_DISTINCT_CHARACTERS


def parse_token_grants(value: str | None, *, setting_name: str) -> dict[str, TokenGrant]:
    """The token table of a setting, validated: JSON, or the path of a file holding it. Raises
    ``ValueError`` with a message for an operator that names ``setting_name`` and never a token."""
    if value is None:
        raise ValueError(f"{setting_name} is not set: give a JSON mapping token -> {{user, role}} or a file")
    raw = value.strip()
    if not raw.startswith("{"):
        path = Path(raw)
        if not path.is_file():
            raise ValueError(f"{setting_name} is neither JSON nor the path of a readable file")
        raw = path.read_text(encoding="utf-8")
    try:
        table = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{setting_name} is not valid JSON (line {exc.lineno})") from None
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{setting_name} must map at least one token to {{user, role}}")
    grants: dict[str, TokenGrant] = {}
    for token, grant in table.items():
        if is_placeholder(token):
            raise ValueError(f"a token in {setting_name} is a placeholder or shorter than {MIN_TOKEN_LENGTH}")
        try:
            grants[token] = TokenGrant.model_validate(grant)
        except ValidationError:
            raise ValueError("each token must map to {user: <name>, role: viewer|labeler|admin}") from None
    return grants


Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class TokenTable(RootModel[dict[Digest, TokenGrant]]):
    """Grants by token digest; the tokens themselves are not kept. A pydantic model, so a service can
    hand it to its workers inside its (serialised) arguments."""

    @classmethod
    def from_tokens(cls, grants: Mapping[str, TokenGrant]) -> TokenTable:
        return cls({token_digest(token): grant for token, grant in grants.items()})

    def lookup(self, token: str) -> TokenGrant | None:
        return self.root.get(token_digest(token))

    def __len__(self) -> int:
        return len(self.root)


__all__ = [
    "MIN_TOKEN_LENGTH",
    "Role",
    "TokenGrant",
    "TokenTable",
    "is_placeholder",
    "parse_token_grants",
    "token_digest",
]
