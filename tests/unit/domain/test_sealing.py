"""Sealed tokens open only with the same secret and never contain the plain text."""

from __future__ import annotations

from chaser.domain.sealing import seal, unseal


def test_round_trip_and_no_plain_text() -> None:
    sealed = seal(b"server-secret", "ghp_abcdef123456")
    assert "ghp_abcdef123456" not in sealed
    assert unseal(b"server-secret", sealed) == "ghp_abcdef123456"


def test_two_seals_differ() -> None:
    assert seal(b"k", "token") != seal(b"k", "token")


def test_wrong_key_or_tampering_opens_to_none() -> None:
    sealed = seal(b"right", "token")
    assert unseal(b"wrong", sealed) is None
    assert unseal(b"right", sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]) is None
    assert unseal(b"right", "not a sealed value") is None
