"""Who a child process runs as, and the environment it starts with."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from ..errors import UnknownUser
from ..protocol import ENV_SOCKET, ENV_TOKEN

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_PRIVATE_ENV = (ENV_SOCKET, ENV_TOKEN)


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    name: str
    home: str


def resolve(user: str | None) -> Identity:
    """`None` means the agent's own user (root in the sandbox)."""
    try:
        if user is None:
            entry = pwd.getpwuid(os.getuid())
        elif user.isdigit():
            entry = pwd.getpwuid(int(user))
        else:
            entry = pwd.getpwnam(user)
    except KeyError:
        if user is None:
            return Identity(os.getuid(), os.getgid(), "root", "/root")
        raise UnknownUser(f"no user {user!r} in the sandbox") from None
    return Identity(entry.pw_uid, entry.pw_gid, entry.pw_name, entry.pw_dir)


def child_env(identity: Identity, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("LANG", "C.UTF-8")
    env["HOME"] = identity.home
    env["USER"] = identity.name
    env["LOGNAME"] = identity.name
    env.update(extra)
    return env
