"""The control plane's relays against a stand-in host daemon (no sandbox needed): the gateway's
HTTP and WebSocket forwards in both endpoint forms, the PTY relay, the SSE relay with resume,
session-token cookies, and connection leases (counted live, released on abrupt disconnects,
409 without force)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import websockets
from websockets.sync.client import connect as ws_connect

from tests.factories import Api, expect, expect_error
from tests.integration.interactive.conftest import RelayServer


class Echo(BaseHTTPRequestHandler):
    """Answers with what it received; `/chunked` streams, `/redirect` redirects."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        if self.path.startswith("/chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                part = f"part{i}\n".encode()
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/target/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(length)
        raw = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode(errors="replace"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Set-Cookie", "guest=1; Path=/")
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer


@pytest.fixture(scope="module")
def guest_http() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def guest_ws() -> Iterator[int]:
    """A WebSocket echo server ("chat" subprotocol when offered)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def echo(ws: Any) -> None:
        async for message in ws:
            if message == "close-me":
                await ws.close(4001, "asked to")
                return
            await ws.send(message)

    async def main() -> None:
        server = await websockets.serve(echo, "127.0.0.1", 0, subprotocols=["chat"])
        holder["port"] = server.sockets[0].getsockname()[1]
        holder["server"] = server
        ready.set()
        await server.serve_forever()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    ready.wait(10)
    yield holder["port"]
    loop.call_soon_threadsafe(holder["server"].close)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def setup(relay_server: RelayServer) -> tuple[RelayServer, Api, str]:
    api = relay_server.user()
    return relay_server, api, relay_server.session(api)


def _leases(api: Api, sid: str) -> int:
    return int(expect(api.get(f"/v1/sessions/{sid}"), 200)["active_connection_leases"])


def _wait_leases(api: Api, sid: str, n: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while _leases(api, sid) != n:
        assert time.monotonic() < deadline, f"leases stayed at {_leases(api, sid)}, expected {n}"
        time.sleep(0.05)


def test_http_forward_both_forms(setup: tuple[RelayServer, Api, str], guest_http: int) -> None:
    srv, api, sid = setup
    auth = {"Authorization": f"Bearer {api.key}"}
    path_url = f"{srv.url}/s/{sid}/forward/{guest_http}/hello?x=1"
    r = httpx.get(path_url, headers={**auth, "Cookie": f"chaser_session_{sid}=zzz; mine=2"})
    body = expect(r, 200)
    assert body["path"] == "/hello?x=1" and body["method"] == "GET"
    assert "authorization" not in body["headers"]
    assert body["headers"]["cookie"] == "mine=2"
    assert body["headers"]["x-forwarded-prefix"] == f"/s/{sid}/forward/{guest_http}"
    assert body["headers"]["x-forwarded-host"] == f"127.0.0.1:{srv.port}"
    assert r.headers["set-cookie"] == "guest=1; Path=/"

    sub = httpx.post(
        f"http://127.0.0.1:{srv.port}/forward/{guest_http}/up",
        headers={**auth, "Host": f"{sid}.localhost:{srv.port}"},
        content=b"x" * 3_000_000,  # above the API's 1 MiB JSON limit: forwards are not limited
    )
    body = expect(sub, 200)
    assert body["method"] == "POST" and len(body["body"]) == 3_000_000
    assert body["headers"]["x-forwarded-prefix"] == f"/forward/{guest_http}"

    def gen() -> Iterator[bytes]:
        yield b"abc"
        yield b"def"

    chunked = httpx.put(path_url, headers=auth, content=gen())
    assert expect(chunked, 200)["body"] == "abcdef"


def test_streamed_response_and_redirect(setup: tuple[RelayServer, Api, str], guest_http: int) -> None:
    srv, api, sid = setup
    auth = {"Authorization": f"Bearer {api.key}"}
    with httpx.stream("GET", f"{srv.url}/s/{sid}/forward/{guest_http}/chunked", headers=auth) as r:
        assert r.status_code == 200 and "content-length" not in r.headers
        assert b"".join(r.iter_bytes()) == b"part0\npart1\npart2\n"
    r = httpx.get(f"{srv.url}/s/{sid}/forward/{guest_http}/redirect", headers=auth)
    assert r.status_code == 302 and r.headers["location"] == f"/s/{sid}/forward/{guest_http}/target/"


def test_gateway_errors(setup: tuple[RelayServer, Api, str]) -> None:
    srv, api, sid = setup
    auth = {"Authorization": f"Bearer {api.key}"}
    expect_error(httpx.get(f"{srv.url}/s/{sid}/forward/8000/"), 401, "unauthorized")
    other = srv.user()
    expect_error(
        httpx.get(f"{srv.url}/s/{sid}/", headers={"Authorization": f"Bearer {other.key}"}),
        404,
        "session_not_found",
    )
    expect_error(
        httpx.get(f"{srv.url}/s/{sid}/forward/{_closed_port()}/", headers=auth), 502, "port_unreachable"
    )
    expect_error(httpx.get(f"{srv.url}/s/{sid}/nope", headers=auth), 404, "not_found")
    described = expect(httpx.get(f"{srv.url}/s/{sid}/", headers=auth), 200)
    assert described["session_id"] == sid and described["endpoints"]["path_style"].endswith(f"/s/{sid}/")


def test_session_token_cookie_flow(setup: tuple[RelayServer, Api, str], guest_http: int) -> None:
    srv, api, sid = setup
    minted = expect(api.post(f"/v1/sessions/{sid}/token", json={"ttl_s": 120}), 200)
    token = minted["token"]
    assert minted["urls"]["path_style"].endswith(f"/s/{sid}/?chaser_token={token}")
    base = f"http://127.0.0.1:{srv.port}"
    with httpx.Client(base_url=base, headers={"Host": f"{sid}.localhost:{srv.port}"}) as browser:
        r = browser.get(f"/forward/{guest_http}/page?a=1&chaser_token={token}")
        assert r.status_code == 302 and r.headers["location"] == f"/forward/{guest_http}/page?a=1"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(f"chaser_session_{sid}={token};")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
        r = browser.get(r.headers["location"], headers={"Cookie": f"chaser_session_{sid}={token}"})
        body = expect(r, 200)
        assert "cookie" not in body["headers"] and body["path"] == "/page?a=1"
    # A token for one session opens no other.
    other_sid = srv.session(api)
    expect_error(httpx.get(f"{srv.url}/s/{other_sid}/?chaser_token={token}"), 401, "unauthorized")
    expect_error(api.post(f"/v1/sessions/{sid}/token", json={"ttl_s": 5}), 400, "invalid_field")


def test_websocket_forward(setup: tuple[RelayServer, Api, str], guest_ws: int) -> None:
    srv, api, sid = setup
    url = f"ws://127.0.0.1:{srv.port}/s/{sid}/forward/{guest_ws}/chat"
    with ws_connect(
        url, additional_headers={"Authorization": f"Bearer {api.key}"}, subprotocols=["chat"]
    ) as ws:
        assert ws.subprotocol == "chat"
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
        ws.send(b"\x00\x01" * 100_000)
        assert ws.recv(timeout=5) == b"\x00\x01" * 100_000
        assert _leases(api, sid) == 1
        ws.send("close-me")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    _wait_leases(api, sid, 0)


def test_pty_relay(setup: tuple[RelayServer, Api, str]) -> None:
    srv, api, sid = setup
    url = f"ws://127.0.0.1:{srv.port}/v1/sessions/{sid}/pty?cols=100&rows=30&token={api.key}"
    with ws_connect(url) as ws:
        hello = json.loads(ws.recv(timeout=5))
        assert hello["type"] == "pty" and hello["pty_id"] == "p1"
        ws.send(b"ls\r")
        assert ws.recv(timeout=5) == b"ls\r"
        ws.send(json.dumps({"type": "resize", "cols": 90, "rows": 20}))
        assert json.loads(ws.recv(timeout=5))["got"]["cols"] == 90
        assert _leases(api, sid) == 1
        ws.send(b"exit\r")
        assert json.loads(ws.recv(timeout=5)) == {"type": "exit", "code": 0}
        with pytest.raises(websockets.ConnectionClosedOK):
            ws.recv(timeout=5)
    _wait_leases(api, sid, 0)


@pytest.mark.parametrize(("query", "code"), [("cols=0", 4400), ("mode=weird", 4400), ("token=sk_nope", 4401)])
def test_pty_refusals(setup: tuple[RelayServer, Api, str], query: str, code: int) -> None:
    srv, api, sid = setup
    headers = {} if "token" in query else {"Authorization": f"Bearer {api.key}"}
    with ws_connect(
        f"ws://127.0.0.1:{srv.port}/v1/sessions/{sid}/pty?{query}", additional_headers=headers
    ) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == code


def _events(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        out.append({"seq": i, "type": "stdout", "data": f"line {i}\n"})
        out.append({"sleep": 0.05})
    out.append({"seq": n + 1, "type": "exit", "exit_code": 0})
    return out


def _parse_sse(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if fields:
            events.append(fields)
    return events


def test_sse_relay_and_resume(setup: tuple[RelayServer, Api, str]) -> None:
    srv, api, sid = setup
    srv.fake.add_command("c1", _events(5))
    r = api.get(f"/v1/sessions/{sid}/commands/c1/stream")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _parse_sse(r.text)
    assert [e["id"] for e in events] == ["1", "2", "3", "4", "5", "6"]
    assert events[0]["event"] == "stdout" and json.loads(events[0]["data"]) == {"data": "line 1\n"}
    assert events[-1]["event"] == "exit" and json.loads(events[-1]["data"]) == {"exit_code": 0}
    resumed = _parse_sse(
        api.get(f"/v1/sessions/{sid}/commands/c1/stream", headers={"Last-Event-ID": "4"}).text
    )
    assert [e["id"] for e in resumed] == ["5", "6"]
    assert [e["id"] for e in _parse_sse(api.get(f"/v1/sessions/{sid}/commands/c1/stream?after=5").text)] == [
        "6"
    ]
    expect_error(api.get(f"/v1/sessions/{sid}/commands/nope/stream"), 404, "command_not_found")


def test_leases_409_force_and_abrupt_disconnect(setup: tuple[RelayServer, Api, str]) -> None:
    srv, api, sid = setup
    srv.fake.add_command("slow", [{"seq": 1, "type": "stdout", "data": "x"}, {"sleep": 60}])
    # An SSE reader that vanishes without a goodbye (socket closed under it).
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.sendall(
        f"GET /v1/sessions/{sid}/commands/slow/stream HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {api.key}\r\n\r\n".encode()
    )
    assert b"200" in sock.recv(4096)
    _wait_leases(api, sid, 1)
    expect_error(api.delete(f"/v1/sessions/{sid}"), 409, "active_connections")
    bulk = expect(api.post("/v1/sessions/bulk-terminate", json={"ids": [sid]}), 200)
    assert bulk["terminated"] == [] and bulk["failed"][0]["code"] == "active_connections"
    sock.close()
    _wait_leases(api, sid, 0)

    # A PTY socket held open, then DELETE ?force=true closes it with 4409.
    url = f"ws://127.0.0.1:{srv.port}/v1/sessions/{sid}/pty?token={api.key}"
    with ws_connect(url) as ws:
        ws.recv(timeout=5)
        _wait_leases(api, sid, 1)
        expect_error(api.delete(f"/v1/sessions/{sid}"), 409, "active_connections")
        done = expect(api.delete(f"/v1/sessions/{sid}?force=true"), 200)
        assert done["status"] == "terminated" and done["active_connection_leases"] == 0
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409
    assert srv.run(_open_count(srv)) == 0


async def _open_count(srv: RelayServer) -> int:
    return int(srv.app.state.leases.open_count())
