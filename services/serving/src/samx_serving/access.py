"""Who may call the serving API: every /v1 route asks for a bearer token of ``SAMX_SERVING_TOKENS``,
looked up by digest in the serving replica's table (samx_core.auth, the model labeling uses). The probes
(/healthz, /readyz) stay open. A refusal is the API's usual Problem body, with the Bearer challenge of
RFC 6750 on a 401."""

# No ``from __future__ import annotations``: FastAPI reads the dependency's parameter types at runtime.
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from ray import serve
from samx_core.auth import Role, TokenGrant, TokenTable

from samx_serving.api_models import Problem
from samx_serving.preprocess import InputError

_bearer = HTTPBearer(auto_error=False, description="A token of SAMX_SERVING_TOKENS")


class Unauthorized(Exception):
    """No token, or one the table does not know."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def unauthorized_response(_request: Request, exc: Exception) -> JSONResponse:
    detail = exc.detail if isinstance(exc, Unauthorized) else "unauthorized"
    problem = Problem(status=401, reason="unauthorized", detail=detail)
    return JSONResponse(problem.model_dump(), 401, headers={"WWW-Authenticate": "Bearer"})


def replica_tokens() -> TokenTable | None:
    """The table of the replica answering this request; None: ``SAMX_SERVING_AUTH=off``. (Serve's
    class-based views find the replica's instance the same way.)"""
    return serve.get_replica_context().servable_object.tokens


def require(role: Role) -> Callable[..., Awaitable[TokenGrant | None]]:
    """A route dependency that admits a known token of ``role`` or above. Every token's role is at least
    ``viewer``, so ``require(Role.viewer)`` admits any known token; a stricter route names its own role."""

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> TokenGrant | None:
        tokens = replica_tokens()
        if tokens is None:
            return None
        if credentials is None:
            raise Unauthorized("missing bearer token")
        grant = tokens.lookup(credentials.credentials)
        if grant is None:
            raise Unauthorized("unknown token")
        if not grant.allows(role):
            raise InputError(403, "forbidden", f"this needs the {role.name} role")
        return grant

    return check


__all__ = ["Unauthorized", "replica_tokens", "require", "unauthorized_response"]
