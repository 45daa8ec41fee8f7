"""`POST /v1/sessions` rules that need no database (decisions.md, Sessions)."""

from __future__ import annotations

import pytest

from chaser.domain.errors import InvalidField
from chaser.domain.sessions import SessionSpec, validate


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (SessionSpec(session_type="vm", ephemeral=True), "session_type"),
        (SessionSpec(ephemeral=True, workspace="w"), "workspace"),
        (SessionSpec(), "workspace"),
        (SessionSpec(session_type="browser", ephemeral=True, image="base"), "image"),
        (SessionSpec(workspace="w", image="base"), "image"),
        (SessionSpec(ephemeral=True, timeout_s=0), "timeout_s"),
        (SessionSpec(ephemeral=True, timeout_s=86_401), "timeout_s"),
        (SessionSpec(ephemeral=True, vcpus=5), "vcpus"),
        (SessionSpec(ephemeral=True, memory_mib=127), "memory_mib"),
        (SessionSpec(ephemeral=True, env={"1X": "y"}), "env"),
        (SessionSpec(ephemeral=True, image="Not An Image!"), "image"),
    ],
)
def test_rule_violations_name_the_field(spec: SessionSpec, field: str) -> None:
    with pytest.raises(InvalidField, match=f"^{field}"):
        validate(spec)


def test_valid_specs_pass() -> None:
    validate(SessionSpec(ephemeral=True))
    validate(SessionSpec(ephemeral=True, image="base", vcpus=4, memory_mib=8192, timeout_s=86_400))
    validate(SessionSpec(workspace="w", env={"A_1": "x"}))
    validate(SessionSpec(ephemeral=True, image="docker.io/library/python:3.12"))
    validate(SessionSpec(ephemeral=True, image="ghcr.io/o/r@sha256:" + "a" * 64))
