"""Session tokens: signed, expiring, bound to one session, forgery refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chaser.domain import tokens
from chaser.domain.errors import InvalidField

SECRET = b"s" * 32
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_round_trip() -> None:
    token, expires_at = tokens.issue(SECRET, "sid", "acct", 3600, NOW)
    assert token.startswith("cst_") and expires_at == NOW + timedelta(hours=1)
    grant = tokens.verify(SECRET, token, NOW)
    assert grant == tokens.SessionToken("sid", "acct", expires_at)


def test_expired_forged_and_malformed() -> None:
    token, _ = tokens.issue(SECRET, "sid", "acct", 60, NOW)
    assert tokens.verify(SECRET, token, NOW + timedelta(seconds=61)) is None
    assert tokens.verify(b"other" * 8, token, NOW) is None
    tampered = token.replace("sid", "sie", 1)
    assert tokens.verify(SECRET, tampered, NOW) is None
    for bad in ("", "sk_abc", "cst_", "cst_a.b.c", "cst_a.b.notanumber.sig"):
        assert tokens.verify(SECRET, bad, NOW) is None


@pytest.mark.parametrize("ttl", [0, 59, 86_401])
def test_ttl_range(ttl: int) -> None:
    with pytest.raises(InvalidField):
        tokens.issue(SECRET, "sid", "acct", ttl, NOW)


def test_secret_persists(tmp_path: Path) -> None:
    first = tokens.load_secret(tmp_path)
    assert tokens.load_secret(tmp_path) == first and len(first) >= 32
    assert (tmp_path / tokens.SECRET_FILE).stat().st_mode & 0o777 == 0o600
