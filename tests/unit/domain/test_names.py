"""Workspace and organization names (decisions.md, Workspaces)."""

from __future__ import annotations

import re

import pytest

from chaser.domain.errors import InvalidField
from chaser.domain.names import generate_workspace_name, is_uuid, validate_email, validate_name


@pytest.mark.parametrize("name", ["a", "My.Work_space-1", "0abc", "x" * 64])
def test_good_names(name: str) -> None:
    assert validate_name("name", name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-dash",
        ".dot",
        "_under",
        "has space",
        "x" * 65,
        "slash/name",
        "semi;colon",
        "00000000-0000-4000-8000-000000000000",
    ],
)
def test_bad_names_name_the_field(name: str) -> None:
    with pytest.raises(InvalidField, match=r"^name: "):
        validate_name("name", name)


def test_generated_names_are_valid() -> None:
    name = generate_workspace_name()
    assert re.fullmatch(r"ws-[0-9a-f]{8}", name)
    validate_name("name", name)


def test_is_uuid() -> None:
    assert is_uuid("00000000-0000-4000-8000-000000000000")
    assert not is_uuid("not-a-uuid") and not is_uuid("1")


def test_emails_are_lowercased() -> None:
    assert validate_email(" A@B.C ") == "a@b.c"
    with pytest.raises(InvalidField):
        validate_email("nobody")
