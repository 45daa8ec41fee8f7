"""`exec`: run `bash -c command` (or its plain argv, see `argv.py`) to completion, streaming
its merged stdout+stderr as DATA.

Args: command, cwd (default /workspace, else the user's home), env, user, timeout_ms,
max_output_bytes. The host's DATA/EOF frames on the channel are the child's stdin.
Events: {"type": "started", "pid"} then {"type": "exit", "code", "timed_out"}.
Result: {"exit_code", "timed_out", "truncated", "pid"}; exit_code is None after a timeout kill,
128+N when a signal N ended the command (as a shell reports it).

Output past max_output_bytes is read and dropped (truncated=True): the command still runs to the
end instead of blocking on a full pipe. The timeout, a host cancel (CLOSE) and a lost connection
all kill the whole process group. Background children that keep the output pipe open do not
hold the op past EXIT_DRAIN_S after the main process exits.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from typing import Any

from ..channel import Channel
from ..errors import BadRequest, Cancelled
from ..protocol import Frame, FrameType
from .argv import argv_for
from .identity import child_env, resolve

EXIT_DRAIN_S = 0.1
EXIT_DRAIN_MAX_S = 1.0
READ_CHUNK = 64 * 1024


def exec_command(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    command = args.get("command")
    if not isinstance(command, str):
        raise BadRequest("exec needs a string `command`")
    identity = resolve(args.get("user"))
    cwd = args.get("cwd") or ("/workspace" if os.path.isdir("/workspace") else identity.home)
    if not os.path.isdir(cwd):
        raise BadRequest(f"cwd {cwd!r} is not a directory", code="invalid_cwd")
    timeout_ms = args.get("timeout_ms")
    max_output = int(args.get("max_output_bytes") or 1 << 20)
    switch_user = identity.uid != os.getuid()
    env = child_env(identity, dict(args.get("env") or {}))
    proc = subprocess.Popen(
        argv_for(command, env.get("PATH", "")),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=env,
        start_new_session=True,  # its own process group: the timeout kills the whole tree
        user=identity.uid if switch_user else None,
        group=identity.gid if switch_user else None,
        extra_groups=os.getgrouplist(identity.name, identity.gid) if switch_user else None,
    )
    assert proc.stdin is not None and proc.stdout is not None

    def kill_group() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    channel.on_cancel = kill_group
    if channel.cancelled.is_set():  # cancelled between OPEN and here
        kill_group()
    channel.event({"type": "started", "pid": proc.pid})

    stdin_thread = threading.Thread(target=_pump_stdin, args=(channel, proc.stdin), daemon=True)
    stdin_thread.start()
    wake_r, wake_w = os.pipe()

    def wait_exit() -> None:
        proc.wait()
        try:
            os.write(wake_w, b"x")
        except OSError:
            pass
        finally:
            os.close(wake_w)  # closed here, never by the op thread, so the fd cannot be reused early

    threading.Thread(target=wait_exit, daemon=True).start()
    try:
        timed_out, truncated = _pump_output(channel, proc, wake_r, timeout_ms, max_output, kill_group)
    finally:
        channel.inbox.put(Frame(FrameType.CLOSE, channel.id))  # ends the stdin pump
        os.close(wake_r)
        proc.stdout.close()
    if channel.cancelled.is_set() and not timed_out:
        raise Cancelled("exec cancelled by the host")
    code = proc.returncode
    exit_code: int | None = None if timed_out else (128 - code if code < 0 else code)
    channel.event({"type": "exit", "code": exit_code, "timed_out": timed_out})
    return {"exit_code": exit_code, "timed_out": timed_out, "truncated": truncated, "pid": proc.pid}


def _pump_output(
    channel: Channel,
    proc: subprocess.Popen[bytes],
    wake_r: int,
    timeout_ms: int | None,
    max_output: int,
    kill_group: Any,
) -> tuple[bool, bool]:
    assert proc.stdout is not None
    out_fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None
    sent = 0
    truncated = timed_out = exited = False
    out_open = True
    drain_until = drain_limit = 0.0
    with selectors.DefaultSelector() as selector:
        selector.register(out_fd, selectors.EVENT_READ, "out")
        selector.register(wake_r, selectors.EVENT_READ, "exit")
        while out_open or not exited:
            now = time.monotonic()
            if exited:
                if now >= drain_until:
                    break
                wait: float | None = drain_until - now
            elif deadline is not None and not timed_out:
                if now >= deadline:
                    timed_out = True
                    kill_group()
                    continue
                wait = deadline - now
            else:
                wait = None
            for key, _ in selector.select(wait):
                if key.data == "exit":
                    exited = True
                    drain_until = time.monotonic() + EXIT_DRAIN_S
                    drain_limit = time.monotonic() + EXIT_DRAIN_MAX_S
                    selector.unregister(wake_r)
                    continue
                chunk = os.read(out_fd, READ_CHUNK)
                if not chunk:
                    out_open = False
                    selector.unregister(out_fd)
                    continue
                if exited:
                    drain_until = min(time.monotonic() + EXIT_DRAIN_S, drain_limit)
                room = max_output - sent
                if len(chunk) > room:
                    truncated = True
                    chunk = chunk[:room]
                if chunk:
                    sent += len(chunk)
                    started = time.monotonic()
                    channel.data(chunk)
                    waited = time.monotonic() - started  # held back by flow control: not draining
                    drain_until, drain_limit = drain_until + waited, drain_limit + waited
    return timed_out, truncated


def _pump_stdin(channel: Channel, stdin: Any) -> None:
    """Copy the host's DATA frames into the child's stdin; EOF or CLOSE closes it."""
    broken = False
    while True:
        frame = channel.read_input()
        if frame is None:
            continue
        if frame.type is FrameType.DATA and not broken:
            try:
                stdin.write(frame.payload)
                stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                broken = True  # the child closed stdin; keep draining the inbox
        elif frame.type in (FrameType.EOF, FrameType.CLOSE):
            with contextlib.suppress(OSError):
                stdin.close()
            return
