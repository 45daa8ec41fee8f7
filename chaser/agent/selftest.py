"""`self_test`: what a session's programs will find: cwd, PATH, shell, user, tool versions,
the CHASER_* markers of the session's environment, and whether the basics work.

Args: env (the session's env, as exec gets it), user. Tool versions come from `<tool> --version`
run in parallel; a missing tool is null.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
from typing import Any

from . import AGENT_VERSION
from .channel import Channel
from .process.argv import SHELL
from .process.identity import child_env, resolve

TOOLS = ("python3", "pip3", "git", "node", "npm", "bash", "curl", "gcc", "make")
VERSION = re.compile(r"\d+(?:\.\d+)+")
TOOL_TIMEOUT_S = 10.0


def self_test(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    identity = resolve(args.get("user"))
    env = child_env(identity, dict(args.get("env") or {}))
    cwd = "/workspace" if os.path.isdir("/workspace") else identity.home
    path = env.get("PATH", "")
    versions: dict[str, str | None] = {}
    threads = [
        threading.Thread(target=_version, args=(tool, path, env, versions), daemon=True) for tool in TOOLS
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TOOL_TIMEOUT_S)
    checks = {
        "shell": os.access(SHELL, os.X_OK),
        "python3": versions.get("python3") is not None,
        "cwd_writable": _writable(cwd),
        "tmp_writable": _writable(tempfile.gettempdir()),
    }
    return {
        "cwd": cwd,
        "path": path,
        "shell": SHELL,
        "user": identity.name,
        "uid": identity.uid,
        "home": identity.home,
        "tools": {tool: versions.get(tool) for tool in TOOLS},
        "markers": {k: v for k, v in sorted(env.items()) if k.startswith("CHASER_")},
        "agent_version": AGENT_VERSION,
        "os": _os_name(),
        "kernel": platform.release(),
        "checks": checks,
        "ok": all(checks.values()),
    }


def _version(tool: str, path: str, env: dict[str, str], out: dict[str, str | None]) -> None:
    program = shutil.which(tool, path=path)
    if program is None:
        out[tool] = None
        return
    try:
        done = subprocess.run(
            [program, "--version"], capture_output=True, env=env, timeout=TOOL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        out[tool] = None
        return
    text = (done.stdout or done.stderr).decode(errors="replace")
    match = VERSION.search(text)
    out[tool] = match.group(0) if match else text.strip().splitlines()[0][:80] if text.strip() else ""


def _writable(directory: str) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".chaser-selftest-"):
            return True
    except OSError:
        return False


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()
