"""`chaser forward ID PORT [LOCAL]`: listen on 127.0.0.1:LOCAL and relay each TCP connection to
127.0.0.1:PORT inside the sandbox over its own raw tunnel WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from chaser.cli._client import api_errors, async_client, fail

if TYPE_CHECKING:
    from chaser.sdk import AsyncClient, AsyncTunnel

# A tunnel that stays open this long without being closed by the server means something accepted.
PROBE_SETTLE_S = 0.5


def forward(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(help="Session id")],
    port: Annotated[int, typer.Argument(help="Port inside the sandbox", min=1, max=65535)],
    local: Annotated[
        int | None,
        typer.Argument(help="Local port on 127.0.0.1 [default: the same as PORT]", min=0, max=65535),
    ] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the local URL in a browser")] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until something listens on PORT in the sandbox")
    ] = False,
    wait_timeout: Annotated[float, typer.Option("--wait-timeout", help="Seconds --wait waits")] = 120.0,
) -> None:
    """Forward a local port to a port inside a sandbox (Ctrl+C stops)."""
    local_port = port if local is None else local

    async def main() -> None:
        async with async_client(ctx) as chaser:
            await chaser.sessions.get(session_id)  # fail early on a wrong id or key
            if wait:
                await wait_for_port(chaser, session_id, port, wait_timeout)
            await serve(chaser, session_id, port, local_port, open_browser)

    with api_errors():
        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
        except OSError as exc:
            raise fail(
                f"cannot listen on 127.0.0.1:{local_port} ({exc.strerror}); pick another LOCAL port"
            ) from None


async def wait_for_port(chaser: AsyncClient, session_id: str, port: int, timeout_s: float) -> None:
    """Retries a tunnel until the guest port accepts (a refused one is closed by the server at once)."""
    from chaser.sdk import ChaserError, ConnectionFailed, PortUnreachable, StreamClosed

    print(f"waiting for port {port} in {session_id} ...", file=sys.stderr)
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    last = ""
    while time.monotonic() < deadline:
        try:
            tunnel = await chaser.tunnel(session_id, port)
            try:
                await asyncio.wait_for(tunnel.recv(), PROBE_SETTLE_S)
                # Data or a clean close right away: the port answered.
                return
            except TimeoutError:
                return  # open and quiet: something accepted the connection
            finally:
                with contextlib.suppress(Exception):
                    await tunnel.close()
        except (PortUnreachable, StreamClosed, ConnectionFailed) as exc:
            last = exc.message
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    raise ChaserError(f"nothing listens on port {port} in the sandbox after {timeout_s:.0f}s ({last})")


async def serve(chaser: AsyncClient, session_id: str, port: int, local_port: int, open_browser: bool) -> None:
    """Accepts until SIGINT/SIGTERM, then closes the listener and every open relay cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    connections: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            connections.add(task)
        try:
            await relay(chaser, session_id, port, reader, writer)
        except asyncio.CancelledError:
            pass
        finally:
            if task is not None:
                connections.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", local_port)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{bound}"
    print(f"forwarding {url} -> {session_id} port {port} (Ctrl+C to stop)", file=sys.stderr, flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        await stop.wait()
    finally:
        server.close()
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def relay(
    chaser: AsyncClient,
    session_id: str,
    port: int,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    from chaser.sdk import ChaserError

    try:
        tunnel = await chaser.tunnel(session_id, port)
    except ChaserError as exc:
        print(f"error: port {port}: {exc.message}", file=sys.stderr)
        writer.close()
        return
    up = asyncio.create_task(_local_to_guest(reader, tunnel))
    down = asyncio.create_task(_guest_to_local(tunnel, writer))
    try:
        await down  # the guest closing ends the connection; local EOF alone only stops sending
    except ChaserError as exc:
        print(f"error: port {port}: {exc.message}", file=sys.stderr)
    except (ConnectionError, OSError):
        pass
    finally:
        up.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await up
        with contextlib.suppress(Exception):
            await tunnel.close()
        with contextlib.suppress(Exception):
            writer.close()
            await writer.wait_closed()


async def _local_to_guest(reader: asyncio.StreamReader, tunnel: AsyncTunnel) -> None:
    while data := await reader.read(65536):
        await tunnel.send(data)


async def _guest_to_local(tunnel: AsyncTunnel, writer: asyncio.StreamWriter) -> None:
    while (data := await tunnel.recv()) is not None:
        writer.write(data)
        await writer.drain()
