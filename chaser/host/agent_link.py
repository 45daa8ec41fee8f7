"""The host's end of one VM's agent connection: listen, verify HELLO, multiplex ops over channels.

The daemon listens on `vms/<id>/sock/agent.sock` (bind-mounted into the sandbox at /run/chaser)
and the agent dials in. The agent reconnects forever, so a restarted daemon listening on the same
path gets the same agent back: that is how a running sandbox is adopted after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaser.agent.protocol import (
    DATA_CHUNK,
    FLOW_CONTROL_PROTOCOL,
    HEADER,
    WINDOW_INITIAL,
    Frame,
    FrameType,
    ProtocolError,
    encode,
    encode_json,
    encode_window,
    parse_header,
)
from chaser.host.errors import AgentError, AgentUnavailable

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 5.0
# Grant the agent more window once this much of a channel's DATA has been taken by its consumer:
# at most WINDOW_INITIAL bytes per channel ever wait in the daemon (see chaser.agent.protocol).
GRANT_STEP = WINDOW_INITIAL // 4
_LOST = Frame(FrameType.CLOSE, 0, b"")  # sentinel put on every open channel when the link drops


@dataclass
class Reply:
    """Everything an op sent back: its events, its DATA (possibly capped) and its result."""

    events: list[dict[str, Any]] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    data_dropped: bool = False
    result: Any = None


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hello: dict[str, Any]):
        self.reader = reader
        self.writer = writer
        self.hello = hello
        self.channels: dict[int, asyncio.Queue[Frame]] = {}
        try:
            self.flow_control = int(hello.get("protocol", 1)) >= FLOW_CONTROL_PROTOCOL
        except (TypeError, ValueError):
            self.flow_control = False

    def send(self, frame: bytes) -> None:
        # One write() per frame: asyncio never interleaves two writes, so no lock is needed.
        self.writer.write(frame)


class _Window:
    """The host's side of one channel's flow control: hand back credit as DATA is consumed."""

    def __init__(self, conn: _Connection, channel: int) -> None:
        self._conn = conn
        self._channel = channel
        self._consumed = 0

    def consumed(self, size: int) -> None:
        if not self._conn.flow_control:
            return
        self._consumed += size
        if self._consumed >= GRANT_STEP:
            self._conn.send(encode_window(self._channel, self._consumed))
            self._consumed = 0


class AgentLink:
    def __init__(self, vm_id: str, socket_path: Path, token: str) -> None:
        self.vm_id = vm_id
        self.socket_path = socket_path
        self._token = token
        self._server: asyncio.AbstractServer | None = None
        self._conn: _Connection | None = None
        self._connected = asyncio.Event()
        self._ids = itertools.count(1)
        self.agent_version: str | None = None
        self.hello_timeout = HELLO_TIMEOUT_S

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def listen(self) -> None:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # stale socket of a previous daemon
        # sun_path holds 108 bytes; a deep state_dir can exceed that, so bind through a short
        # /proc/self/fd/<dir> alias of the socket's directory instead.
        dir_fd = os.open(self.socket_path.parent, os.O_PATH | os.O_DIRECTORY)
        try:
            path = f"/proc/self/fd/{dir_fd}/{self.socket_path.name}"
            self._server = await asyncio.start_unix_server(self._on_connect, path=path)
        finally:
            os.close(dir_fd)
        os.chmod(self.socket_path, 0o600)

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        conn = self._conn
        if conn is not None:
            self._drop(conn)
            conn.writer.close()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            frame = await asyncio.wait_for(_read_frame(reader), self.hello_timeout)
            hello = frame.json() if frame and frame.type is FrameType.HELLO else None
        except (TimeoutError, ProtocolError, ValueError, OSError):
            hello = None
        if not isinstance(hello, dict) or not hmac.compare_digest(str(hello.get("token", "")), self._token):
            log.warning("vm %s: rejected an agent connection with a bad HELLO", self.vm_id)
            writer.close()
            return
        old = self._conn
        if old is not None:
            self._drop(old)
            old.writer.close()
        conn = _Connection(reader, writer, hello)
        self._conn = conn
        self.agent_version = str(hello.get("version"))
        self._connected.set()
        try:
            while True:
                frame = await _read_frame(reader)
                if frame is None:
                    break
                queue = conn.channels.get(frame.channel)
                if queue is not None:
                    queue.put_nowait(frame)
        except (ProtocolError, OSError) as exc:
            log.warning("vm %s: agent link broke: %r", self.vm_id, exc)
        finally:
            self._drop(conn)
            writer.close()

    def _drop(self, conn: _Connection) -> None:
        if self._conn is conn:
            self._conn = None
            self._connected.clear()
        for queue in conn.channels.values():
            queue.put_nowait(_LOST)
        conn.channels.clear()

    @contextlib.asynccontextmanager
    async def _channel(
        self, op: str, args: dict[str, Any]
    ) -> AsyncIterator[tuple[_Connection, int, asyncio.Queue[Frame]]]:
        conn = self._conn
        if conn is None:
            raise AgentUnavailable(f"vm {self.vm_id}: the agent is not connected")
        channel = next(self._ids)
        queue: asyncio.Queue[Frame] = asyncio.Queue()
        conn.channels[channel] = queue
        finished = False
        try:
            conn.send(encode_json(FrameType.OPEN, channel, {"op": op, "args": args}))
            yield conn, channel, queue
            finished = True
        finally:
            conn.channels.pop(channel, None)
            if not finished and self._conn is conn:
                # Cancelled or failed before the agent's CLOSE: tell it to stop (kills an exec).
                with contextlib.suppress(Exception):
                    conn.send(encode(FrameType.CLOSE, channel))

    @contextlib.asynccontextmanager
    async def stream(self, op: str, args: dict[str, Any] | None = None) -> AsyncIterator[Stream]:
        """An open channel for a long-lived op (pty, connect, command_events). Leaving the block
        before the agent's CLOSE sends CLOSE (with `stream.close_body`, if set): the op is
        cancelled or, for a pty, detached."""
        conn = self._conn
        if conn is None:
            raise AgentUnavailable(f"vm {self.vm_id}: the agent is not connected")
        channel = next(self._ids)
        stream = Stream(self.vm_id, op, conn, channel)
        conn.channels[channel] = stream.queue
        try:
            conn.send(encode_json(FrameType.OPEN, channel, {"op": op, "args": args or {}}))
            yield stream
        finally:
            conn.channels.pop(channel, None)
            if not stream.closed and self._conn is conn:
                payload = json.dumps(stream.close_body).encode() if stream.close_body else b""
                with contextlib.suppress(Exception):
                    conn.send(encode(FrameType.CLOSE, channel, payload))

    async def call(
        self,
        op: str,
        args: dict[str, Any] | None = None,
        *,
        stdin: bytes | None = None,
        max_data: int | None = None,
        send_eof: bool = True,
    ) -> Reply:
        """Run one op to its CLOSE. `stdin` is sent as DATA then EOF; DATA beyond `max_data` is
        dropped (flagged) rather than buffered without bound."""
        async with self._channel(op, args or {}) as (conn, channel, queue):
            if stdin:
                for start in range(0, len(stdin), DATA_CHUNK):
                    conn.send(encode(FrameType.DATA, channel, stdin[start : start + DATA_CHUNK]))
                    await conn.writer.drain()
            if send_eof:
                conn.send(encode(FrameType.EOF, channel))
            await conn.writer.drain()
            reply = Reply()
            window = _Window(conn, channel)
            while True:
                frame = await queue.get()
                if frame is _LOST:
                    raise AgentUnavailable(f"vm {self.vm_id}: the agent link dropped during {op}")
                if frame.type is FrameType.DATA:
                    window.consumed(len(frame.payload))
                    if max_data is not None and len(reply.data) + len(frame.payload) > max_data:
                        reply.data += frame.payload[: max(0, max_data - len(reply.data))]
                        reply.data_dropped = True
                    else:
                        reply.data += frame.payload
                elif frame.type is FrameType.EVENT:
                    reply.events.append(frame.json())
                elif frame.type is FrameType.CLOSE:
                    body = frame.json()
                    if "error" in body:
                        error = body["error"]
                        raise AgentError(str(error.get("code", "agent_error")), str(error.get("message", "")))
                    reply.result = body.get("result")
                    return reply


class Stream:
    """The host's end of one long-lived channel: send DATA/EOF/EVENT, receive frames in order."""

    def __init__(self, vm_id: str, op: str, conn: _Connection, channel: int) -> None:
        self.vm_id = vm_id
        self.op = op
        self.channel = channel
        self.queue: asyncio.Queue[Frame] = asyncio.Queue()
        self.closed = False  # the agent sent CLOSE (or the link dropped)
        self.close_body: dict[str, Any] | None = None
        self._conn = conn
        self._window = _Window(conn, channel)

    def send(self, data: bytes) -> None:
        for start in range(0, len(data), DATA_CHUNK):
            self._conn.send(encode(FrameType.DATA, self.channel, data[start : start + DATA_CHUNK]))

    def send_eof(self) -> None:
        self._conn.send(encode(FrameType.EOF, self.channel))

    def send_event(self, body: dict[str, Any]) -> None:
        self._conn.send(encode_json(FrameType.EVENT, self.channel, body))

    async def drain(self) -> None:
        await self._conn.writer.drain()

    async def recv(self) -> Frame:
        """The next frame from the agent. A CLOSE with an error raises `AgentError`; a dropped
        link raises `AgentUnavailable`; a normal CLOSE is returned (and ends the stream)."""
        frame = await self.queue.get()
        if frame is _LOST:
            self.closed = True
            raise AgentUnavailable(f"vm {self.vm_id}: the agent link dropped during {self.op}")
        if frame.type is FrameType.CLOSE:
            self.closed = True
            body = frame.json()
            if "error" in body:
                error = body["error"]
                raise AgentError(str(error.get("code", "agent_error")), str(error.get("message", "")))
        elif frame.type is FrameType.DATA:
            # Taken by the consumer: the agent may send that much more.
            self._window.consumed(len(frame.payload))
        return frame


async def _read_frame(reader: asyncio.StreamReader) -> Frame | None:
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("connection closed mid-frame") from exc
        return None
    type_, channel, length = parse_header(header)
    try:
        payload = await reader.readexactly(length) if length else b""
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError("connection closed mid-frame") from exc
    return Frame(type_, channel, payload)
