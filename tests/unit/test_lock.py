"""The environment the tests run in is exactly requirements.lock: every locked package is installed
at its locked version, every locked line carries hashes, and every dependency pyproject.toml
declares is locked. A drift here means a fresh machine would test something else."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")  # `name==version \` opens a block


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_every_locked_line_has_hashes() -> None:
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text())
    pinned = [block for block in blocks if PIN.match(block)]
    assert len(pinned) > 50
    for block in pinned:
        assert "--hash=sha256:" in block, block.splitlines()[0]


def test_installed_versions_equal_the_lock() -> None:
    pins = _locked()
    wrong = {}
    for name, version in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            wrong[name] = (version, installed)
    assert wrong == {}, "installed packages differ from requirements.lock: run `make bootstrap`"


@pytest.mark.parametrize("group", ["dependencies", "dev"])
def test_every_declared_dependency_is_locked(group: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] if group == "dependencies" else project["optional-dependencies"]["dev"]
    pins = _locked()
    for requirement in declared:
        name = canonicalize_name(Requirement(requirement).name)
        assert name in pins, f"{requirement} is not in requirements.lock: run `make lock`"
