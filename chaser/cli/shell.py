"""`chaser shell [id] [-c cmd]`: a real terminal in a sandbox over the PTY WebSocket.

The local terminal goes into raw mode (every key, Ctrl+C included, reaches the remote shell) and is
restored however the session ends. SIGWINCH becomes a resize control message. The remote shell's
exit code becomes ours. Without an id an ephemeral sandbox is created and terminated afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from chaser.cli._client import api_errors, async_client, client

if TYPE_CHECKING:
    from chaser.sdk import AsyncClient, AsyncPty

# Exit code when the connection is lost before the remote process reported how it ended.
LOST_EXIT = 255


def shell(
    ctx: typer.Context,
    session_id: Annotated[
        str | None, typer.Argument(help="Session id [default: a new ephemeral sandbox, removed afterwards]")
    ] = None,
    command: Annotated[
        str | None, typer.Option("--command", "-c", help="Run this command under a terminal, then exit")
    ] = None,
) -> None:
    """Open an interactive shell in a sandbox (exits with the shell's exit code)."""
    if session_id is not None:
        raise typer.Exit(open_shell(ctx, session_id, command))
    with api_errors(), client(ctx) as chaser:
        session = chaser.sessions.create()
    try:
        code = open_shell(ctx, session["id"], command)
    finally:
        with api_errors(), client(ctx) as chaser:
            chaser.sessions.terminate(session["id"], force=True)
    raise typer.Exit(code)


def open_shell(ctx: typer.Context, session_id: str, command: str | None) -> int:
    """Runs the terminal until the remote side ends; returns the exit code."""

    async def main() -> int:
        async with async_client(ctx) as chaser:
            return await run_terminal(chaser, session_id, command)

    with api_errors():
        return asyncio.run(main())


def _size() -> tuple[int, int]:
    for fd in (sys.stdout.fileno(), sys.stdin.fileno()):
        with contextlib.suppress(OSError, ValueError):
            size = os.get_terminal_size(fd)
            return size.columns, size.lines
    fallback = shutil.get_terminal_size((80, 24))
    return fallback.columns, fallback.lines


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            import select

            select.select([], [fd], [])
            continue
        view = view[n:]


async def run_terminal(chaser: AsyncClient, session_id: str, command: str | None) -> int:
    cols, rows = _size()
    mode = "exec" if command else "human"
    pty = await chaser.pty(session_id, mode=mode, cols=cols, rows=rows, command=command)
    async with pty:
        return await _relay(pty)


async def _relay(pty: AsyncPty) -> int:
    loop = asyncio.get_running_loop()
    in_fd = sys.stdin.fileno()
    out_fd = sys.stdout.fileno()
    interactive = os.isatty(in_fd)
    saved = None
    if interactive:
        import termios
        import tty

        saved = termios.tcgetattr(in_fd)
        tty.setraw(in_fd, termios.TCSANOW)  # not TCSAFLUSH: keep what was typed ahead
    outgoing: asyncio.Queue[bytes | None] = asyncio.Queue()

    def on_stdin() -> None:
        try:
            data = os.read(in_fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            # Input ended (a pipe): stop reading; the remote side decides when it is done.
            loop.remove_reader(in_fd)
            outgoing.put_nowait(None)
            return
        outgoing.put_nowait(data)

    resizes: set[asyncio.Task[None]] = set()

    def on_resize() -> None:
        c, r = _size()
        task = loop.create_task(_quiet(pty.resize(c, r)))
        resizes.add(task)
        task.add_done_callback(resizes.discard)

    async def pump() -> None:
        while (data := await outgoing.get()) is not None:
            await pty.send(data)
        if not interactive:
            await pty.send(b"\x04")  # EOF for the remote terminal, as Ctrl+D would be

    def read_in_thread() -> None:
        # Regular files and /dev/null can't be watched by epoll: read them on a thread instead.
        while True:
            try:
                data = os.read(in_fd, 65536)
            except OSError:
                data = b""
            loop.call_soon_threadsafe(outgoing.put_nowait, data or None)
            if not data:
                return

    sender = None
    try:
        try:
            loop.add_reader(in_fd, on_stdin)
        except OSError:
            import threading

            threading.Thread(target=read_in_thread, name="chaser-stdin", daemon=True).start()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGWINCH, on_resize)
        sender = asyncio.create_task(pump())
        async for chunk in pty:
            _write_all(out_fd, chunk)
    finally:
        loop.remove_reader(in_fd)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGWINCH)
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        if saved is not None:
            import termios

            termios.tcsetattr(in_fd, termios.TCSADRAIN, saved)
    if pty.exit_code is None:
        print("\r\nerror: the connection to the terminal was lost", file=sys.stderr)
        return LOST_EXIT
    return pty.exit_code


async def _quiet(coro: object) -> None:
    with contextlib.suppress(Exception):
        await coro  # type: ignore[misc]
