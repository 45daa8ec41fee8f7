"""One background command (pipes, no pty) and the table of them; `background.py` holds the ops.

stdout and stderr are read by their own threads into one `EventLog`, so they stay apart but
share one sequence. stdin is fed by a writer thread from a queue, so a command that does not
read never blocks the op that wrote to it. An exited command stays listed for RETAIN_S.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import queue
import secrets
import signal
import subprocess
import threading
import time
from typing import IO, Any

from .events import EventLog

READ_CHUNK = 64 * 1024
RETAIN_S = 600.0
MAX_RETAINED = 256  # exited commands kept at most; the oldest are forgotten first
PIPE_DRAIN_S = 1.0  # after exit, how long output of lingering grandchildren is still read


class Command:
    def __init__(self, command: str, proc: subprocess.Popen[bytes], timeout_ms: int | None) -> None:
        self.command_id = "cmd-" + secrets.token_hex(6)
        self.command = command
        self.proc = proc
        self.log = EventLog()
        self.started_at = time.time()
        self.ended_at: float | None = None
        self.exit_code: int | None = None
        self.signalled = False  # ended by a signal
        self._stdin: queue.Queue[bytes | None] = queue.Queue()
        self._timer: threading.Timer | None = None
        if timeout_ms:
            self._timer = threading.Timer(timeout_ms / 1000, self.signal, args=(signal.SIGKILL,))
            self._timer.daemon = True
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(proc.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._read, args=(proc.stderr, "stderr"), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        threading.Thread(target=self._write_stdin, args=(proc.stdin,), daemon=True).start()
        threading.Thread(target=self._wait, daemon=True).start()
        if self._timer is not None:
            self._timer.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def status(self) -> str:
        if self.ended_at is None:
            return "running"
        return "killed" if self.signalled else "exited"

    def info(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "pid": self.pid,
            "command": self.command,
            "status": self.status,
            "exit_code": self.exit_code,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }

    def write_stdin(self, data: bytes, eof: bool) -> None:
        if data:
            self._stdin.put(data)
        if eof:
            self._stdin.put(None)

    def signal(self, signum: int) -> None:
        """Signal the whole process group (the command started its own session)."""
        if self.ended_at is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def _read(self, pipe: IO[bytes], kind: str) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        fd = pipe.fileno()
        try:
            while True:
                try:
                    chunk = os.read(fd, READ_CHUNK)
                except OSError:
                    chunk = b""
                text = decoder.decode(chunk, final=not chunk)
                if text:
                    self.log.append(kind, text)
                if not chunk:
                    return
        finally:
            pipe.close()

    def _write_stdin(self, stdin: IO[bytes]) -> None:
        broken = False
        while True:
            data = self._stdin.get()
            if data is None:
                break
            if not broken:
                try:
                    stdin.write(data)
                    stdin.flush()
                except (OSError, ValueError):
                    broken = True  # the command closed its stdin; drop what follows
        with contextlib.suppress(OSError):
            stdin.close()

    def _wait(self) -> None:
        code = self.proc.wait()
        deadline = time.monotonic() + PIPE_DRAIN_S
        for reader in self._readers:
            reader.join(max(0.0, deadline - time.monotonic()))
        if self._timer is not None:
            self._timer.cancel()
        self.signalled = code < 0
        self.exit_code = 128 - code if code < 0 else code
        self.ended_at = time.time()
        self.log.finish(self.exit_code)
        self._stdin.put(None)  # ends the writer thread


COMMANDS: dict[str, Command] = {}
# Guards COMMANDS between op threads (start, look up, sweep).
_TABLE_LOCK = threading.Lock()


def register(command: Command) -> None:
    with _TABLE_LOCK:
        _sweep()
        COMMANDS[command.command_id] = command


def lookup(command_id: str) -> Command | None:
    with _TABLE_LOCK:
        _sweep()
        return COMMANDS.get(command_id)


def all_commands() -> list[Command]:
    with _TABLE_LOCK:
        _sweep()
        return sorted(COMMANDS.values(), key=lambda c: c.started_at)


def _sweep() -> None:
    """Forget commands that ended more than RETAIN_S ago, and the oldest beyond MAX_RETAINED."""
    now = time.time()
    ended = sorted((c for c in COMMANDS.values() if c.ended_at is not None), key=lambda c: c.ended_at or 0.0)
    for index, command in enumerate(ended):
        if now - (command.ended_at or now) > RETAIN_S or index < len(ended) - MAX_RETAINED:
            del COMMANDS[command.command_id]
