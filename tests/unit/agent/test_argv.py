"""`argv_for`: plain commands skip bash; anything bash would interpret goes to bash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chaser.agent.process.argv import SHELL, argv_for

PATH = os.environ.get("PATH", "/usr/bin:/bin")


def test_plain_command_runs_directly() -> None:
    argv = argv_for("ls -la /tmp", PATH)
    assert Path(argv[0]).name == "ls" and argv[1:] == ["-la", "/tmp"]


@pytest.mark.parametrize(
    "command",
    [
        "echo hi",  # builtin
        "cd /tmp",
        "ls *.py",
        "ls ~",
        "echo $HOME",
        "ls > out",
        "ls | wc",
        "ls && pwd",
        "ls; pwd",
        "ls 'a b'",
        'ls "a"',
        "FOO=1 env",
        "ls  -l",  # double space: let bash split it
        "ls\tx",
        "ls\nls",
        "sleep 1 &",
        "no-such-program-here x",
        "",
    ],
)
def test_anything_shell_like_goes_to_bash(command: str) -> None:
    assert argv_for(command, PATH) == [SHELL, "-c", command]


def test_true_and_false_behave_alike_as_programs() -> None:
    assert Path(argv_for("true", PATH)[0]).name == "true"


def test_absolute_program_must_be_executable(tmp_path: Path) -> None:
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh\n")
    assert argv_for(f"{script} x", PATH) == [SHELL, "-c", f"{script} x"]
    script.chmod(0o755)
    assert argv_for(f"{script} x", PATH) == [str(script), "x"]
