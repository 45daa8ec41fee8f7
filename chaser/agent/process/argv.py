"""Which argv runs a command: `bash -c command`, or the command's own words when that is the same.

Starting bash costs a process image of its own, and under gVisor's ptrace platform every process
start is milliseconds. For a command of plain words (no quoting, expansion, redirection, globbing,
operators or assignments) whose first word is an executable on PATH and not a shell builtin, bash
would do nothing but exec it, so the agent execs it directly. Anything else goes to bash.
"""

from __future__ import annotations

import os
import re

SHELL = "/bin/bash"

# A word bash would pass through unchanged: no quotes, $, `, globs, ~, redirections or operators.
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9_./:,+@%^-]+$")

# Builtins and keywords of bash: these must run inside a shell, never as /usr/bin/<name>.
# (`true` and `false` are absent on purpose: /usr/bin/true and the builtin behave the same.)
_SHELL_WORDS = frozenset(
    [
        "alias",
        "bg",
        "bind",
        "break",
        "builtin",
        "caller",
        "case",
        "cd",
        "command",
        "compgen",
        "complete",
        "compopt",
        "continue",
        "coproc",
        "declare",
        "dirs",
        "disown",
        "do",
        "done",
        "echo",
        "elif",
        "else",
        "enable",
        "esac",
        "eval",
        "exec",
        "exit",
        "export",
        "fc",
        "fg",
        "fi",
        "for",
        "function",
        "getopts",
        "hash",
        "help",
        "history",
        "if",
        "in",
        "jobs",
        "kill",
        "let",
        "local",
        "logout",
        "mapfile",
        "popd",
        "printf",
        "pushd",
        "pwd",
        "read",
        "readarray",
        "readonly",
        "return",
        "select",
        "set",
        "shift",
        "shopt",
        "source",
        "suspend",
        "test",
        "then",
        "time",
        "times",
        "trap",
        "type",
        "typeset",
        "ulimit",
        "umask",
        "unalias",
        "unset",
        "until",
        "wait",
        "while",
    ]
)


def argv_for(command: str, path: str) -> list[str]:
    words = command.split(" ")
    if (
        not command
        or any(not word or not _PLAIN_WORD.match(word) for word in words)
        or words[0] in _SHELL_WORDS
    ):
        return [SHELL, "-c", command]
    program = _which(words[0], path)
    if program is None:
        return [SHELL, "-c", command]  # let bash report "command not found" its own way
    return [program, *words[1:]]


def _which(name: str, path: str) -> str | None:
    candidates = [name] if "/" in name else [os.path.join(d, name) for d in path.split(":") if d]
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
