"""`pty` (start or reattach a terminal and stay attached), `pty_list`, `pty_resize`.

`pty` args: mode human|agent|exec, cols, rows, command (exec), cwd, user, env, grace_s, or
pty_id to reattach. Events to the host: {"type": "pty", pty_id, pid, mode, cols, rows,
"replayed", "offset"} first, then DATA (replay, then live output), then {"type": "exit", "code"}
when the process ends. From the host: DATA = keystrokes, EVENT {"type": "resize", cols, rows},
CLOSE {"delivered": offset} = detach (the terminal lives on; `delivered` says how much output the
client really got, so a reattach replays from there).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import struct
import subprocess
import termios
from typing import Any

from ..channel import Channel
from ..errors import BadRequest, OpError
from ..protocol import Frame, FrameType
from .argv import SHELL, argv_for
from .identity import child_env, resolve
from .terminal import Terminal, all_terminals, lookup, register

MODES = ("human", "agent", "exec")
DEFAULT_GRACE_S = 60.0


class PtyNotFound(OpError):
    code = "pty_not_found"


def pty(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    pty_id = args.get("pty_id")
    if pty_id:
        terminal = lookup(str(pty_id))
        if terminal is None:
            raise PtyNotFound(f"no terminal {pty_id!r} (it ended, or its grace period ran out)")
    else:
        terminal = _start(args)
        register(terminal)
    channel.on_cancel = lambda: channel.inbox.put(_CANCELLED)
    attachment = terminal.attach(channel)
    delivered: int | None = None
    while not attachment.ended:
        frame = channel.read_input(timeout=1.0)
        if frame is None:
            continue
        if frame.type is FrameType.DATA:
            terminal.write(frame.payload)
        elif frame.type is FrameType.EVENT and frame.channel == channel.id:
            body = _json(frame.payload)
            if body.get("type") == "resize":
                cols, rows = _size(body)
                terminal.resize(cols, rows)
        elif frame.type is FrameType.CLOSE:
            delivered = _json(frame.payload).get("delivered") if frame.channel == channel.id else None
            break
    terminal.detach(attachment, delivered if isinstance(delivered, int) else None)
    return {"pty_id": terminal.pty_id, "exit_code": terminal.exit_code}


def pty_list(channel: Channel, args: dict[str, Any]) -> list[dict[str, Any]]:
    return [t.info() for t in sorted(all_terminals(), key=lambda t: t.created_at)]


def pty_resize(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    terminal = lookup(str(args.get("pty_id")))
    if terminal is None:
        raise PtyNotFound(f"no terminal {args.get('pty_id')!r}")
    cols, rows = _size(args)
    terminal.resize(cols, rows)
    return terminal.info()


_CANCELLED = Frame(FrameType.CLOSE, 0, b"")  # the connection to the host is gone: detach


def _start(args: dict[str, Any]) -> Terminal:
    mode = args.get("mode") or "human"
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}")
    command = args.get("command")
    if mode == "exec" and (not isinstance(command, str) or not command.strip()):
        raise BadRequest("exec mode needs a `command`")
    cols, rows = _size(args)
    identity = resolve(args.get("user"))
    cwd = args.get("cwd") or ("/workspace" if os.path.isdir("/workspace") else identity.home)
    if not os.path.isdir(cwd):
        raise BadRequest(f"cwd {cwd!r} is not a directory", code="invalid_cwd")
    extra = {str(k): str(v) for k, v in dict(args.get("env") or {}).items()}
    env = child_env(identity, extra)
    if mode == "human":
        env["TERM"] = extra.get("TERM", "xterm-256color")
        env["COLORTERM"] = extra.get("COLORTERM", "truecolor")
        argv = [SHELL, "-l", "-i"]
    elif mode == "agent":
        # No prompts, no line editing, no echo: what a program reads is only the output.
        env.update({"TERM": "dumb", "PS1": "", "PS2": "", "PS0": "", "PROMPT_COMMAND": "", "HISTFILE": ""})
        argv = [SHELL, "--norc", "--noprofile", "--noediting", "-i"]
    else:
        env["TERM"] = extra.get("TERM", "xterm-256color")
        argv = argv_for(str(command), env.get("PATH", ""))
    master, slave = os.openpty()
    try:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        if mode == "agent":
            attrs = termios.tcgetattr(slave)
            attrs[3] &= ~(termios.ECHO | termios.ECHONL)
            termios.tcsetattr(slave, termios.TCSANOW, attrs)
        switch_user = identity.uid != os.getuid()
        if switch_user:
            os.fchown(slave, identity.uid, -1)
        proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            start_new_session=True,
            # The new session's controlling terminal is the pty (job control, ^C, SIGHUP).
            preexec_fn=_take_controlling_tty,
            user=identity.uid if switch_user else None,
            group=identity.gid if switch_user else None,
            extra_groups=os.getgrouplist(identity.name, identity.gid) if switch_user else None,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    grace = float(args.get("grace_s") or DEFAULT_GRACE_S)
    return Terminal(mode, proc, master, cols, rows, grace)


def _take_controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _size(body: dict[str, Any]) -> tuple[int, int]:
    try:
        cols = int(80 if body.get("cols") is None else body["cols"])
        rows = int(24 if body.get("rows") is None else body["rows"])
    except (TypeError, ValueError):
        raise BadRequest("cols and rows must be integers") from None
    if not (1 <= cols <= 1000 and 1 <= rows <= 1000):
        raise BadRequest("cols and rows must be within 1..1000")
    return cols, rows


def _json(payload: bytes) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        body = json.loads(payload) if payload else {}
        if isinstance(body, dict):
            return body
    return {}
