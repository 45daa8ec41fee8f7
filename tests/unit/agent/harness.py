"""Runs the agent in-process over socket.socketpair() and plays the host's side, synchronously."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from chaser.agent.connection import Connection
from chaser.agent.protocol import Frame, FrameType, encode, encode_json, read_frame


@dataclass
class Reply:
    events: list[dict[str, Any]] = field(default_factory=list)
    data: bytes = b""
    close: dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> dict[str, Any]:
        assert "result" in self.close, self.close
        return self.close["result"]

    @property
    def error_code(self) -> str | None:
        return self.close.get("error", {}).get("code")


class FakeHost:
    def __init__(self, token: str = "tok") -> None:
        self.sock, agent_end = socket.socketpair()
        self.sock.settimeout(20)
        self._agent_end = agent_end
        self.thread = threading.Thread(target=Connection(agent_end, token).serve, daemon=True)
        self.thread.start()
        hello = read_frame(self.sock)
        assert hello is not None and hello.type is FrameType.HELLO
        self.hello = hello.json()
        self._next = 1

    def open(self, op: str, args: dict[str, Any] | None = None) -> int:
        channel = self._next
        self._next += 1
        self.sock.sendall(encode_json(FrameType.OPEN, channel, {"op": op, "args": args or {}}))
        return channel

    def send(self, type_: FrameType, channel: int, payload: bytes = b"") -> None:
        self.sock.sendall(encode(type_, channel, payload))

    def collect(self, channel: int) -> Reply:
        reply = Reply()
        while True:
            frame = read_frame(self.sock)
            assert frame is not None, "agent closed the connection"
            assert frame.channel == channel, frame
            if self._absorb(reply, frame):
                return reply

    def collect_many(self, channels: list[int]) -> dict[int, Reply]:
        replies = {c: Reply() for c in channels}
        pending = set(channels)
        while pending:
            frame = read_frame(self.sock)
            assert frame is not None
            if self._absorb(replies[frame.channel], frame):
                pending.discard(frame.channel)
        return replies

    @staticmethod
    def _absorb(reply: Reply, frame: Frame) -> bool:
        if frame.type is FrameType.EVENT:
            reply.events.append(frame.json())
        elif frame.type is FrameType.DATA:
            reply.data += frame.payload
        elif frame.type is FrameType.CLOSE:
            reply.close = frame.json()
            return True
        return False

    def call(self, op: str, args: dict[str, Any] | None = None, stdin: bytes | None = b"") -> Reply:
        channel = self.open(op, args)
        if stdin is not None:
            if stdin:
                self.send(FrameType.DATA, channel, stdin)
            self.send(FrameType.EOF, channel)
        return self.collect(channel)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=5)
        self._agent_end.close()
