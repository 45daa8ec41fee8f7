"""Helpers for the interactive-surface tests: read a WebSocket until something shows up."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import pyte
from websockets.asyncio.client import ClientConnection


async def hello(ws: ClientConnection) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), 10)
    assert isinstance(message, str), message
    body: dict[str, Any] = json.loads(message)
    assert body["type"] == "pty", body
    return body


async def read_until(
    ws: ClientConnection, done: Callable[[bytes], bool], timeout: float = 10.0
) -> tuple[bytes, list[dict[str, Any]]]:
    """Binary bytes and text messages received until `done(bytes)` or the socket closes."""
    data = b""
    texts: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not done(data):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out; got {data[-2000:]!r} {texts}"
        try:
            message = await asyncio.wait_for(ws.recv(), remaining)
        except TimeoutError:
            continue
        if isinstance(message, bytes):
            data += message
        else:
            texts.append(json.loads(message))
    return data, texts


class Terminal:
    """A pyte screen fed from a pty socket."""

    def __init__(self, ws: ClientConnection, cols: int = 80, rows: int = 24) -> None:
        self.ws = ws
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.exits: list[dict[str, Any]] = []

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    async def type(self, keys: str) -> None:
        await self.ws.send(keys.encode())

    async def wait_for(self, check: Callable[[str], bool], timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while not check(self.text()):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"screen never matched:\n{self.text()}"
            try:
                message = await asyncio.wait_for(self.ws.recv(), remaining)
            except TimeoutError:
                continue
            if isinstance(message, bytes):
                self.stream.feed(message)
            else:
                self.exits.append(json.loads(message))
        return self.text()

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(rows, cols)
