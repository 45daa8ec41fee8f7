"""Wire framing between the host daemon and the guest agent. Stdlib only; the host imports it too.

One byte stream carries many channels. Each frame is a fixed 9-byte header followed by a payload:

    type    u8   one of FrameType
    channel u32  0 = the connection itself (HELLO); the host opens channels 1..2**31-1;
                 channels the agent opens (future: port forwarding) set the top bit
    length  u32  payload bytes, at most MAX_PAYLOAD

A channel's life: host sends OPEN {"op", "args"} → both sides may send DATA (raw bytes) and EOF
(half close: "no more DATA from me") → the agent sends EVENTs (json) while the op runs → the agent
ends it with CLOSE {"result": ...} or CLOSE {"error": {"code", "message"}}. The host may send
CLOSE first to cancel the op (an exec's process group is killed; a pty detaches, and the CLOSE
payload may say {"delivered": offset}); the agent still answers CLOSE. The host may also send
EVENTs (json) to an op that reads them, e.g. {"type": "resize"} to a `pty`; ops that don't, ignore them.

Flow control (protocol 2): the agent may send at most WINDOW_INITIAL bytes of DATA on a channel
before the host grants more with WINDOW frames, which it sends as its consumer takes the data. A
slow consumer (a terminal client on a bad link, say) therefore stalls the guest process writing,
instead of growing the daemon's memory. A host sends WINDOW only to agents whose HELLO says 2+.
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

PROTOCOL_VERSION = 2
FLOW_CONTROL_PROTOCOL = 2
WINDOW_INITIAL = 1 << 20
WINDOW = struct.Struct("!I")
HEADER = struct.Struct("!BII")
MAX_PAYLOAD = 1 << 20
DATA_CHUNK = 64 * 1024
AGENT_CHANNEL_BIT = 1 << 31

# Environment the host gives the agent (see chaser.host.runtimes.gvisor.spec).
ENV_SOCKET = "CHASER_AGENT_SOCKET"
ENV_TOKEN = "CHASER_AGENT_TOKEN"
DEFAULT_SOCKET = "/run/chaser/agent.sock"


class FrameType(IntEnum):
    HELLO = 1  # agent → host, channel 0: {"version", "protocol", "token", "pid"}
    OPEN = 2  # host → agent: {"op", "args"}
    DATA = 3  # either way: raw bytes
    EOF = 4  # either way: no more DATA from the sender on this channel
    EVENT = 5  # either way: json, op-specific (e.g. {"type": "exit", "code": 0}, {"type": "resize"})
    CLOSE = 6  # agent → host: {"result"} | {"error"}; host → agent: cancel (payload optional)
    WINDOW = 7  # host → agent: u32, further bytes of DATA the agent may send on this channel


class ProtocolError(Exception):
    """The peer sent bytes that are not a valid frame."""


@dataclass(frozen=True, slots=True)
class Frame:
    type: FrameType
    channel: int
    payload: bytes = b""

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else {}


def encode(type_: FrameType, channel: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(type_, channel, len(payload)) + payload


def encode_window(channel: int, granted: int) -> bytes:
    return encode(FrameType.WINDOW, channel, WINDOW.pack(granted))


def encode_json(type_: FrameType, channel: int, body: Any) -> bytes:
    return encode(type_, channel, json.dumps(body, separators=(",", ":")).encode())


def parse_header(header: bytes) -> tuple[FrameType, int, int]:
    raw_type, channel, length = HEADER.unpack(header)
    try:
        type_ = FrameType(raw_type)
    except ValueError:
        raise ProtocolError(f"unknown frame type {raw_type}") from None
    if length > MAX_PAYLOAD:
        raise ProtocolError(f"frame length {length} exceeds {MAX_PAYLOAD}")
    return type_, channel, length


class Decoder:
    """Incremental decoder: feed bytes as they arrive, get whole frames out."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= HEADER.size:
            type_, channel, length = parse_header(bytes(self._buffer[: HEADER.size]))
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append(Frame(type_, channel, bytes(self._buffer[HEADER.size : end])))
            del self._buffer[:end]
        return frames


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < n:
        chunk = sock.recv(n - len(chunks))
        if not chunk:
            if chunks:
                raise ProtocolError("connection closed mid-frame")
            return None
        chunks += chunk
    return bytes(chunks)


def read_frame(sock: socket.socket) -> Frame | None:
    """Blocking read of one frame; None on a clean end of stream."""
    header = _recv_exact(sock, HEADER.size)
    if header is None:
        return None
    type_, channel, length = parse_header(header)
    payload = _recv_exact(sock, length) if length else b""
    if payload is None:
        raise ProtocolError("connection closed mid-frame")
    return Frame(type_, channel, payload)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
