"""The shared token model: a table parsed inline or from a file, placeholders and short tokens refused,
grants looked up by digest, roles ordered."""

from __future__ import annotations

import json

import pytest
from samx_core.auth import MIN_TOKEN_LENGTH, Role, TokenGrant, TokenTable, parse_token_grants, token_digest

TOKEN = "a-real-looking-token-123"  # noqa: S105 (a test token)
OTHER = "another-long-token-4567"


def test_an_inline_table_is_parsed():
    value = json.dumps({TOKEN: {"user": "dr.x", "role": "labeler"}, OTHER: {"user": "sort", "role": "viewer"}})
    grants = parse_token_grants(value, setting_name="SAMX_X_TOKENS")
    assert grants == {TOKEN: TokenGrant(user="dr.x", role="labeler"), OTHER: TokenGrant(user="sort", role="viewer")}


def test_a_table_is_read_from_a_file(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({TOKEN: {"user": "dr.x", "role": "admin"}}))
    grants = parse_token_grants(f"  {path}\n", setting_name="SAMX_X_TOKENS")  # a mounted Secret's trailing newline
    assert grants[TOKEN].level is Role.admin


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "SAMX_X_TOKENS is not set"),
        ('{"changeme": {"user": "a", "role": "admin"}}', "placeholder"),
        ('{"ChangeThis": {"user": "a", "role": "admin"}}', "placeholder"),
        ('{"aaaaaaaaaaaaaaaaaaaa": {"user": "a", "role": "admin"}}', "placeholder"),
        (json.dumps({"abcdefghijklmnopq"[: MIN_TOKEN_LENGTH - 1]: {}}), f"shorter than {MIN_TOKEN_LENGTH}"),
        (json.dumps({TOKEN: {"user": "a", "role": "root"}}), "viewer|labeler|admin"),
        (json.dumps({TOKEN: {"user": "a b", "role": "viewer"}}), "viewer|labeler|admin"),
        ("{not json", "SAMX_X_TOKENS is not valid JSON"),
        ("{}", "at least one token"),
        ("/no/such/file.json", "neither JSON nor"),
    ],
)
def test_bad_tables_are_refused_with_the_setting_named(value, message):
    with pytest.raises(ValueError, match=message) as refused:
        parse_token_grants(value, setting_name="SAMX_X_TOKENS")
    assert TOKEN not in str(refused.value)  # an operator's message never repeats a token


def test_the_table_keeps_digests_only_and_looks_tokens_up_by_them():
    table = TokenTable.from_tokens({TOKEN: TokenGrant(user="dr.x", role="viewer")})
    assert list(table.root) == [token_digest(TOKEN)] and len(token_digest(TOKEN)) == 64
    assert TOKEN not in table.model_dump_json()
    assert table.lookup(TOKEN) == TokenGrant(user="dr.x", role="viewer")
    assert table.lookup(OTHER) is None and table.lookup("") is None
    # serialised (a service's arguments to its workers) and back: the same lookups
    again = TokenTable.model_validate_json(table.model_dump_json())
    assert again.lookup(TOKEN) == table.lookup(TOKEN) and len(again) == 1


def test_a_table_refuses_keys_that_are_not_digests():
    with pytest.raises(ValueError, match="pattern"):
        TokenTable.model_validate({TOKEN: {"user": "dr.x", "role": "viewer"}})


def test_roles_are_ordered_and_each_allows_the_ones_below():
    assert Role.viewer < Role.labeler < Role.admin
    labeler = TokenGrant(user="dr.x", role="labeler")
    assert labeler.allows(Role.viewer) and labeler.allows(Role.labeler) and not labeler.allows(Role.admin)
    assert TokenGrant(user="a", role="admin").allows(Role.labeler)
    assert not TokenGrant(user="v", role="viewer").allows(Role.labeler)
