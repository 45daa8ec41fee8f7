"""Background commands: `command_start`, `command_list`, `command_get`, `command_events`,
`command_stdin`, `command_kill`. The process state lives in `command.py`.

`command_start` args are exec's (command, cwd, env, user, timeout_ms, stdin) and it returns the
command's info at once. `command_events` {command_id, after} sends each event after `after` as an
EVENT frame, waits for more, and ends (CLOSE) after the exit event or when the host cancels.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

from ..channel import Channel
from ..errors import BadRequest, OpError
from .argv import argv_for
from .command import Command, all_commands, lookup, register
from .identity import child_env, resolve

WAIT_STEP_S = 0.5


class CommandNotFound(OpError):
    code = "command_not_found"


def command_start(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    command = args.get("command")
    if not isinstance(command, str) or not command:
        raise BadRequest("a background command needs a non-empty string `command`")
    identity = resolve(args.get("user"))
    cwd = args.get("cwd") or ("/workspace" if os.path.isdir("/workspace") else identity.home)
    if not os.path.isdir(cwd):
        raise BadRequest(f"cwd {cwd!r} is not a directory", code="invalid_cwd")
    switch_user = identity.uid != os.getuid()
    env = child_env(identity, dict(args.get("env") or {}))
    proc = subprocess.Popen(
        argv_for(command, env.get("PATH", "")),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,  # its own process group: kill signals the whole tree
        user=identity.uid if switch_user else None,
        group=identity.gid if switch_user else None,
        extra_groups=os.getgrouplist(identity.name, identity.gid) if switch_user else None,
    )
    handle = Command(command, proc, args.get("timeout_ms"))
    register(handle)
    stdin = args.get("stdin")
    if stdin:
        handle.write_stdin(str(stdin).encode(), eof=False)
    return handle.info()


def command_list(channel: Channel, args: dict[str, Any]) -> list[dict[str, Any]]:
    return [c.info() for c in all_commands()]


def command_get(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    return _find(args).info()


def command_events(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    handle = _find(args)
    seq = int(args.get("after") or 0)
    channel.on_cancel = handle.log.wake
    while not channel.cancelled.is_set():
        for event in handle.log.after(seq):
            channel.event(event)
            seq = event["seq"]
            if event["type"] == "exit":
                return {"last_seq": seq}
        handle.log.wait(seq, WAIT_STEP_S)
    return {"last_seq": seq}


def command_stdin(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    handle = _find(args)
    data = args.get("data") or ""
    if not isinstance(data, str):
        raise BadRequest("stdin `data` must be a string")
    handle.write_stdin(data.encode(), eof=bool(args.get("eof")))
    return handle.info()


def command_kill(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    handle = _find(args)
    handle.signal(parse_signal(args.get("signal", "TERM")))
    return handle.info()


def parse_signal(value: Any) -> int:
    """Signal name or number → number: "TERM", "SIGTERM", "term" and 15 are all 15."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        number = int(value)
        if number not in signal.valid_signals():
            raise BadRequest(f"no signal {number}", code="bad_signal")
        return number
    if isinstance(value, str):
        name = value.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        member = getattr(signal.Signals, name, None) if name.isidentifier() else None
        if isinstance(member, signal.Signals):
            return int(member)
    raise BadRequest(f"unknown signal {value!r}", code="bad_signal")


def _find(args: dict[str, Any]) -> Command:
    handle = lookup(str(args.get("command_id")))
    if handle is None:
        raise CommandNotFound(f"no command {args.get('command_id')!r} (unknown, or ended too long ago)")
    return handle
