"""Key generation, hashing and scope rules (decisions.md, Auth)."""

from __future__ import annotations

import hashlib
import re

import pytest

from chaser.domain.errors import InsufficientScope, InvalidField
from chaser.domain.keys import SCOPES, check_grant, generate_key, hash_key, looks_like_key, normalize_scopes
from chaser.domain.principal import Principal


def test_generated_key_shape_hash_and_prefix() -> None:
    new = generate_key()
    assert re.fullmatch(r"sk_[A-Za-z0-9_-]{43}", new.secret)
    assert new.key_prefix == new.secret[:11]
    assert new.key_hash == hashlib.sha256(new.secret.encode()).hexdigest() == hash_key(new.secret)
    assert looks_like_key(new.secret)


def test_keys_are_unique() -> None:
    assert len({generate_key().secret for _ in range(100)}) == 100


@pytest.mark.parametrize("token", ["", "sk_", "garbage", "Bearer sk_x"])
def test_not_a_key(token: str) -> None:
    assert not looks_like_key(token)


def test_scopes_are_validated_and_deduplicated() -> None:
    assert normalize_scopes(None) == []
    assert normalize_scopes([]) == []
    assert normalize_scopes(["sessions.read", "files.read", "sessions.read"]) == [
        "sessions.read",
        "files.read",
    ]
    with pytest.raises(InvalidField, match=r"root\.everything"):
        normalize_scopes(["sessions.read", "root.everything"])


def test_contract_scope_list() -> None:
    assert len(SCOPES) == 14 and "webhooks.write" in SCOPES


def principal(scopes: frozenset[str]) -> Principal:
    return Principal("k", "a", "personal", "u", None, scopes, "owner")


def test_empty_scopes_is_full_access() -> None:
    who = principal(frozenset())
    assert who.full_access
    who.require("sessions.write")
    who.require_full_access()


def test_missing_scope_is_insufficient_scope() -> None:
    who = principal(frozenset({"sessions.read"}))
    who.require("sessions.read")
    with pytest.raises(InsufficientScope):
        who.require("sessions.write")
    with pytest.raises(InsufficientScope):
        who.require_full_access()


def test_a_key_grants_at_most_what_it_holds() -> None:
    check_grant(frozenset(), [])
    check_grant(frozenset(), ["sessions.read"])
    check_grant(frozenset({"keys.write", "sessions.read"}), ["sessions.read"])
    with pytest.raises(InsufficientScope):
        check_grant(frozenset({"keys.write"}), [])
    with pytest.raises(InsufficientScope):
        check_grant(frozenset({"keys.write"}), ["sessions.read"])
