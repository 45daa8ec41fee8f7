"""One terminal (a process on a pty) and the table of live terminals; the `pty` ops drive them.

A terminal outlives its channel: when the host's channel goes away the terminal detaches, keeps
its output in a bounded replay buffer and waits `grace_s` for a reattach before it is killed.
At most one channel is attached; a new attach takes the terminal over from the old one.

Under gVisor: the master never reports EOF/EIO after the child exits (so exit comes from
wait()), TIOCSWINSZ sends no SIGWINCH and tcgetpgrp/tpgid are unavailable (so resize signals
every process group of the terminal's session itself).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import selectors
import signal
import struct
import subprocess
import termios
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..channel import Channel
from ..protocol import Frame, FrameType
from .replay import ReplayBuffer

READ_CHUNK = 64 * 1024
EXIT_DRAIN_S = 0.1
# After the process exits, output still in the pty is read for up to this long (a background job
# holding the pty open must not keep the terminal alive forever). gVisor's pty buffers far more
# than Linux's 4 KiB, so a command that finished while its client lagged can leave tens of MB.
EXIT_DRAIN_MAX_S = 5.0
KILL_WAIT_S = 1.0

WAKE = Frame(FrameType.EVENT, 0, b"{}")  # put on an attached channel's inbox: look at your state


@dataclass
class Attachment:
    channel: Channel
    offset: int  # first byte this attachment was sent
    sent: int = 0  # offset just past the last byte sent to it
    ended: bool = False  # taken over by another attach, or the terminal exited


class Terminal:
    def __init__(
        self, mode: str, proc: subprocess.Popen[bytes], master: int, cols: int, rows: int, grace_s: float
    ) -> None:
        self.pty_id = "pty-" + secrets.token_hex(6)
        self.mode = mode
        self.proc = proc
        self.master = master
        self.cols, self.rows = cols, rows
        self.grace_s = grace_s
        self.created_at = time.time()
        self.buffer = ReplayBuffer()
        self.exit_code: int | None = None
        self.exited = False
        self.attached: Attachment | None = None
        self.acked = 0  # the client has everything before this offset
        self._timer: threading.Timer | None = None
        # Guards buffer, attached, acked and exit: the reader thread appends and forwards output
        # while op threads attach, detach and replay; holding it across a send keeps replay and
        # live output in order on the channel.
        self.lock = threading.Lock()
        self._exit_r, self._exit_w = os.pipe()
        threading.Thread(target=self._wait, daemon=True, name=f"{self.pty_id}-wait").start()
        threading.Thread(target=self._read, daemon=True, name=f"{self.pty_id}-read").start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def info(self) -> dict[str, Any]:
        return {
            "pty_id": self.pty_id,
            "pid": self.pid,
            "mode": self.mode,
            "cols": self.cols,
            "rows": self.rows,
            "attached": self.attached is not None,
            "created_at": self.created_at,
            "exit_code": self.exit_code,
        }

    # ---- attach / detach (op threads)

    def attach(self, channel: Channel) -> Attachment:
        """Send the pty event and the replay, then live output follows from the reader thread."""
        with self.lock:
            old = self.attached
            if old is not None:
                old.ended = True
                old.sent = max(old.sent, old.offset)
                old.channel.stop_data()  # the reader thread may be waiting to send it output
                old.channel.inbox.put(WAKE)
            self._cancel_timer()
            start, replay = self.buffer.since(self.acked)
            attachment = Attachment(channel, offset=start, sent=start + len(replay))
            channel.event(
                {
                    "type": "pty",
                    **self.info(),
                    "attached": True,
                    "replayed": len(replay),
                    "offset": start,
                }
            )
            if replay:
                channel.data(replay)
            if self.exited:
                channel.event({"type": "exit", "code": self.exit_code})
                attachment.ended = True
                self.acked = attachment.sent
                self._schedule(self.grace_s, self._forget)
            else:
                self.attached = attachment
            return attachment

    def detach(self, attachment: Attachment, delivered: int | None) -> None:
        with self.lock:
            if self.attached is not attachment:
                return
            self.attached = None
            sent = attachment.sent
            self.acked = sent if delivered is None else min(max(delivered, attachment.offset), sent)
            if self.exited:
                self._schedule(self.grace_s, self._forget)
            else:
                self._schedule(self.grace_s, self.kill)

    def write(self, data: bytes) -> None:
        for part, signum in self._split_signal_keys(data):
            self._write_raw(part)
            if signum is not None:
                _signal_foreground(self.pid, signum)

    def _split_signal_keys(self, data: bytes) -> list[tuple[bytes, int | None]]:
        """Where the kernel's line discipline turns ^C/^\\/^Z into signals, pass bytes through.
        Where it can't (gVisor: the pty never becomes a controlling tty, so tcgetpgrp fails),
        do it here: each key, when ISIG is on, becomes a signal to the foreground job."""
        try:
            os.tcgetpgrp(self.master)
            return [(data, None)]
        except OSError:
            pass
        try:
            attrs = termios.tcgetattr(self.master)
        except termios.error:
            return [(data, None)]
        if not attrs[3] & termios.ISIG:
            return [(data, None)]  # raw mode (an editor, a pager): the program wants the bytes
        keys = {attrs[6][index]: signum for index, signum in _SIGNAL_KEYS}
        parts: list[tuple[bytes, int | None]] = []
        start = 0
        for i in range(len(data)):
            signum = keys.get(data[i : i + 1])
            if signum is not None:
                parts.append((data[start:i], signum))
                start = i + 1
        parts.append((data[start:], None))
        return parts

    def _write_raw(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.master, view)
            except OSError:
                return  # the terminal is gone; its exit is on its way
            view = view[written:]

    def resize(self, cols: int, rows: int) -> None:
        with contextlib.suppress(OSError):
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.cols, self.rows = cols, rows
        for pgrp in _session_groups(self.pid):
            with contextlib.suppress(OSError):
                os.killpg(pgrp, signal.SIGWINCH)

    def kill(self) -> None:
        """Hang up, then kill the session's process groups if they linger."""
        if self.exited:
            return
        groups = _session_groups(self.pid) or {self.pid}
        for pgrp in groups:
            with contextlib.suppress(OSError):
                os.killpg(pgrp, signal.SIGHUP)
        deadline = time.monotonic() + KILL_WAIT_S
        while not self.exited and time.monotonic() < deadline:
            time.sleep(0.02)
        for pgrp in groups:
            with contextlib.suppress(OSError):
                os.killpg(pgrp, signal.SIGKILL)

    # ---- internals

    def _schedule(self, delay: float, action: Any) -> None:
        self._cancel_timer()
        self._timer = threading.Timer(delay, action)
        self._timer.daemon = True
        self._timer.start()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _forget(self) -> None:
        with self.lock:
            if self.attached is not None:
                return
        with _TABLE_LOCK:
            if TERMINALS.get(self.pty_id) is self:
                del TERMINALS[self.pty_id]

    def _wait(self) -> None:
        self.proc.wait()
        try:
            os.write(self._exit_w, b"x")
        finally:
            os.close(self._exit_w)

    def _read(self) -> None:
        exited = False
        drain_until = drain_limit = 0.0
        with selectors.DefaultSelector() as selector:
            selector.register(self.master, selectors.EVENT_READ, "out")
            selector.register(self._exit_r, selectors.EVENT_READ, "exit")
            while True:
                wait = None
                if exited:
                    wait = drain_until - time.monotonic()
                    if wait <= 0:
                        break
                events = selector.select(wait)
                for key, _ in events:
                    if key.data == "exit":
                        exited = True
                        drain_until = time.monotonic() + EXIT_DRAIN_S
                        drain_limit = time.monotonic() + EXIT_DRAIN_MAX_S
                        selector.unregister(self._exit_r)
                        continue
                    try:
                        chunk = os.read(self.master, READ_CHUNK)
                    except OSError:
                        chunk = b""  # EIO: every slave fd is closed (Linux)
                    if not chunk:
                        selector.unregister(self.master)
                        if not exited:
                            self.proc.wait()
                            exited, drain_until = True, 0.0
                        continue
                    if exited:
                        drain_until = min(time.monotonic() + EXIT_DRAIN_S, drain_limit)
                    started = time.monotonic()
                    self._output(chunk)
                    # The drain clock stops while the host's consumer holds us back (flow
                    # control): a slow client must not lose the tail of a finished command.
                    waited = time.monotonic() - started
                    drain_until, drain_limit = drain_until + waited, drain_limit + waited
        code = self.proc.returncode
        with self.lock:
            self.exit_code = 128 - code if code < 0 else code
            self.exited = True
            attachment = self.attached
            if attachment is not None:
                attachment.channel.event({"type": "exit", "code": self.exit_code})
                attachment.ended = True
                attachment.channel.inbox.put(WAKE)
                self.attached = None
                self.acked = attachment.sent
            # Detached or not, the tail stays readable by a reattach for one grace period.
            self._schedule(self.grace_s, self._forget)
        os.close(self._exit_r)
        os.close(self.master)

    def _output(self, chunk: bytes) -> None:
        # Sent outside the lock: `data` waits while the host's consumer is behind (flow control),
        # and a takeover (`attach`) or a resize must not wait for a stalled client.
        with self.lock:
            self.buffer.append(chunk)
            end = self.buffer.end
            attachment = self.attached
        if attachment is not None and attachment.channel.data(chunk):
            with self.lock:
                attachment.sent = max(attachment.sent, end)


_SIGNAL_KEYS = (
    (termios.VINTR, signal.SIGINT),
    (termios.VQUIT, signal.SIGQUIT),
    (termios.VSUSP, signal.SIGTSTP),
)


def _signal_foreground(sid: int, signum: int) -> None:
    """Signal the job a terminal would call foreground: the newest running process group of the
    session other than the shell's own, else the shell (bash answers ^C at its prompt)."""
    jobs = [g for g in _session_groups(sid) - {sid} if _state(g) not in ("T", "t", "Z")]
    with contextlib.suppress(OSError):
        os.killpg(max(jobs) if jobs else sid, signum)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def _session_groups(sid: int) -> set[int]:
    """Process groups of the session led by `sid` (read from /proc: gVisor has no tpgid)."""
    groups: set[int] = set()
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return groups
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and int(fields[3]) == sid:
            groups.add(int(fields[2]))
    return groups


TERMINALS: dict[str, Terminal] = {}
# Guards TERMINALS between op threads (add, look up) and grace timers (remove).
_TABLE_LOCK = threading.Lock()


def register(terminal: Terminal) -> None:
    with _TABLE_LOCK:
        TERMINALS[terminal.pty_id] = terminal


def lookup(pty_id: str) -> Terminal | None:
    with _TABLE_LOCK:
        return TERMINALS.get(pty_id)


def all_terminals() -> list[Terminal]:
    with _TABLE_LOCK:
        return list(TERMINALS.values())
