"""WebSockets: a terminal (`GET /v1/sessions/{id}/pty`) and a raw byte tunnel to a guest port
(`GET /v1/sessions/{id}/ports/{port}/tunnel`). Binary frames carry bytes both ways; text frames
on the PTY are JSON control messages (`pty` hello, `resize`, `exit`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from chaser.sdk._errors import ChaserError, ConnectionFailed, error_for, error_for_close
from chaser.sdk._http import Config

__all__ = ["AsyncPty", "AsyncTunnel", "open_socket"]

MAX_FRAME = 16 * 1024 * 1024


async def open_socket(config: Config, path: str, params: dict[str, Any] | None = None) -> ClientConnection:
    """Opens an authenticated WebSocket to an API path; HTTP refusals become `ChaserError`s."""
    url = config.ws_url(path, params)
    headers = [(k, v) for k, v in config.headers().items() if k != "User-Agent"]
    try:
        return await connect(
            url,
            additional_headers=headers,
            user_agent_header="chaser-sdk-python",
            max_size=MAX_FRAME,
            open_timeout=30,
            ping_interval=20,
            ping_timeout=60,
            compression=None,
        )
    except InvalidStatus as exc:
        resp = exc.response
        try:
            body: Any = json.loads(resp.body or b"")
        except ValueError:
            body = None
        raise error_for(resp.status_code, body, {k.lower(): v for k, v in resp.headers.raw_items()}) from exc
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        raise ConnectionFailed(
            f"cannot open a WebSocket to {config.api_url}{path} ({exc}); is `chaser server` running?",
            code="connection_failed",
        ) from exc


def _closed_error(exc: ConnectionClosed) -> ChaserError | None:
    """None for a normal close (1000/1001/no code), else the error the close code stands for."""
    rcvd = exc.rcvd
    if rcvd is None or rcvd.code in (1000, 1001, 1005):
        return None
    if rcvd.code >= 4000:
        return error_for_close(rcvd.code, rcvd.reason)
    return ConnectionFailed(f"the connection closed abnormally ({rcvd.code} {rcvd.reason})".strip())


class _Socket:
    """What a terminal and a tunnel share: one WebSocket, closed by `close()` or the `async with`."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.closed = False

    async def close(self) -> None:
        self.closed = True
        await self._ws.close()

    async def _next_message(self) -> bytes | str | None:
        """The next WebSocket message; None once the socket closed normally (a close that carries
        an error, e.g. 4404, raises it)."""
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            self.closed = True
            err = _closed_error(exc)
            if err is not None:
                raise err from exc
            return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class AsyncPty(_Socket):
    """A terminal in a sandbox. Iterate it for output bytes; `exit_code` is set once the process ends.

    `async with await client.pty(session_id) as pty: ...`"""

    def __init__(self, ws: ClientConnection, hello: dict[str, Any]) -> None:
        super().__init__(ws)
        self.hello = hello
        self.pty_id: str | None = hello.get("pty_id")
        self.pid: int | None = hello.get("pid")
        self.exit_code: int | None = None

    @classmethod
    async def connect(
        cls,
        config: Config,
        session_id: str,
        *,
        mode: str = "human",
        cols: int = 80,
        rows: int = 24,
        command: str | None = None,
        pty_id: str | None = None,
    ) -> AsyncPty:
        params = {"mode": mode, "cols": cols, "rows": rows, "command": command, "pty_id": pty_id}
        ws = await open_socket(config, f"/v1/sessions/{session_id}/pty", params)
        try:
            first = await ws.recv()
        except ConnectionClosed as exc:
            raise _closed_error(exc) or ConnectionFailed("the terminal closed before it started") from exc
        hello: dict[str, Any] = {}
        pending: bytes | None = None
        if isinstance(first, str):
            try:
                hello = json.loads(first)
            except ValueError:
                hello = {}
        else:
            pending = first
        pty = cls(ws, hello)
        pty._pending = pending
        return pty

    _pending: bytes | None = None

    async def send(self, data: bytes | str) -> None:
        """Keystrokes / input bytes."""
        await self._ws.send(data.encode() if isinstance(data, str) else bytes(data))

    async def resize(self, cols: int, rows: int) -> None:
        await self._ws.send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    async def recv(self) -> bytes | None:
        """The next output bytes; None once the terminal has exited (see `exit_code`) or closed."""
        if self._pending is not None:
            data, self._pending = self._pending, None
            return data
        while not self.closed:
            msg = await self._next_message()
            if msg is None or isinstance(msg, bytes):
                return msg
            try:
                control = json.loads(msg)
            except ValueError:
                continue
            if isinstance(control, dict) and control.get("type") == "exit":
                code = control.get("code")
                self.exit_code = code if isinstance(code, int) else None
        return None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while (chunk := await self.recv()) is not None:
            yield chunk

    async def wait(self) -> int | None:
        """Drains output until the process exits; returns its exit code."""
        async for _ in self:
            pass
        return self.exit_code


class AsyncTunnel(_Socket):
    """Raw bytes to and from `127.0.0.1:<port>` inside a sandbox (one TCP connection)."""

    @classmethod
    async def connect(cls, config: Config, session_id: str, port: int) -> AsyncTunnel:
        ws = await open_socket(config, f"/v1/sessions/{session_id}/ports/{port}/tunnel")
        return cls(ws)

    async def send(self, data: bytes) -> None:
        await self._ws.send(bytes(data))

    async def recv(self) -> bytes | None:
        """The next bytes from the guest; None when the guest side closed normally."""
        while (msg := await self._next_message()) is not None:
            if isinstance(msg, bytes):
                return msg
            # Text frames are not part of the tunnel protocol; ignore them.
        return None
