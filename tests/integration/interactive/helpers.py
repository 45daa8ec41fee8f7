"""Small helpers for the interactive suite: a PTY client with a pyte screen, SSE parsing, and
waiting for a lease count."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pyte
from websockets.sync.client import ClientConnection, connect

from tests.factories import Api, expect


class Terminal:
    """A PTY socket with a pyte screen fed by its binary frames."""

    def __init__(self, ws: ClientConnection, cols: int, rows: int) -> None:
        self.ws = ws
        self.hello: dict[str, Any] = json.loads(ws.recv(timeout=30))
        assert self.hello["type"] == "pty", self.hello
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        self.control: list[dict[str, Any]] = []

    @property
    def pty_id(self) -> str:
        return str(self.hello["pty_id"])

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def send(self, data: str | bytes) -> None:
        self.ws.send(data.encode() if isinstance(data, str) else data)

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(rows, cols)
        self.ws.send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    def pump(self, timeout: float = 0.2) -> bool:
        """Read one message (if any arrives within `timeout`); False when nothing came."""
        try:
            message = self.ws.recv(timeout=timeout)
        except TimeoutError:
            return False
        if isinstance(message, bytes):
            self.raw += message
            self.stream.feed(message)
        else:
            self.control.append(json.loads(message))
        return True

    def wait_for(self, check: Callable[[], bool], timeout: float = 20, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or check}; screen:\n{self.text()}")
            self.pump()

    def wait_text(self, needle: str, timeout: float = 20) -> None:
        self.wait_for(lambda: needle in self.text(), timeout, repr(needle))

    def wait_raw(self, needle: bytes, timeout: float = 20) -> None:
        self.wait_for(lambda: needle in self.raw, timeout, repr(needle))


def open_terminal(
    base_ws: str, api: Api, sid: str, *, cols: int = 80, rows: int = 24, **params: Any
) -> Terminal:
    query = urlencode({"cols": cols, "rows": rows, **{k: v for k, v in params.items() if v is not None}})
    ws = connect(
        f"{base_ws}/v1/sessions/{sid}/pty?{query}",
        additional_headers={"Authorization": f"Bearer {api.key}"},
        max_size=None,
        open_timeout=30,
    )
    return Terminal(ws, cols, rows)


def parse_sse(text: str) -> list[dict[str, Any]]:
    """`[{"id", "event", "data": {...}}]` from an SSE body (comments skipped)."""
    events = []
    for block in text.replace("\r\n", "\n").strip().split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":") or ": " not in line:
                continue
            name, value = line.split(": ", 1)
            fields[name] = json.loads(value) if name == "data" else value
        if fields:
            events.append(fields)
    return events


def leases(api: Api, sid: str) -> int:
    return int(expect(api.get(f"/v1/sessions/{sid}"), 200)["active_connection_leases"])


def wait_leases(api: Api, sid: str, n: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while (current := leases(api, sid)) != n:
        assert time.monotonic() < deadline, f"active_connection_leases stayed {current}, expected {n}"
        time.sleep(0.1)


def background(api: Api, sid: str, command: str, **body: Any) -> dict[str, Any]:
    started = expect(
        api.post(f"/v1/sessions/{sid}/exec", json={"command": command, "background": True, **body}), 200
    )
    assert started["status"] == "running" and started["background"] is True, started
    assert started["command_id"] and started["exit_code"] is None and started["output"] == ""
    return started


def wait_http(url: str, headers: dict[str, str], timeout: float = 30) -> httpx.Response:
    """GET until the guest server answers something other than 502 port_unreachable."""
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(url, headers=headers, timeout=30)
        if r.status_code != 502 or time.monotonic() > deadline:
            return r
        time.sleep(0.3)
