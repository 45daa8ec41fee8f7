"""The gateway in a real sandbox: `python3 -m http.server` (a background command) reached
through `/forward/8000/` in both endpoint forms (Host `<id>.localhost:<port>`, also with curl's
own *.localhost resolution, and `/s/<id>/`), a stdlib WebSocket echo server reached with the
`websockets` client, and the session-token cookie flow."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.sync.client import connect

from tests.factories import expect, expect_error
from tests.integration.interactive.conftest import Sandbox
from tests.integration.interactive.helpers import background, wait_http, wait_leases

pytestmark = pytest.mark.gvisor
ASSETS = Path(__file__).parent / "assets"
WS_PORT = 8765


@pytest.fixture(scope="module")
def servers(sandbox: Sandbox) -> Sandbox:
    api, sid = sandbox.api, sandbox.sid
    expect(
        api.post(
            f"/v1/sessions/{sid}/exec",
            json={"command": "mkdir -p /srv/www && echo hello-from-guest > /srv/www/hello.txt"},
        ),
        200,
    )
    background(api, sid, "cd /srv/www && exec python3 -m http.server 8000 --bind 127.0.0.1")
    upload = api.post(
        f"/v1/sessions/{sid}/upload",
        data={"path": "/srv/ws_echo.py"},
        files={"file": ("ws_echo.py", (ASSETS / "ws_echo.py").read_bytes())},
    )
    expect(upload, 200)
    background(api, sid, f"exec python3 /srv/ws_echo.py {WS_PORT}")
    auth = {"Authorization": f"Bearer {api.key}"}
    r = wait_http(f"{sandbox.server.url}/s/{sid}/forward/8000/hello.txt", auth)
    assert r.status_code == 200, r.text
    return sandbox


def test_http_server_both_forms(servers: Sandbox) -> None:
    api, sid, url = servers.api, servers.sid, servers.server.url
    auth = {"Authorization": f"Bearer {api.key}"}
    path_style = httpx.get(f"{url}/s/{sid}/forward/8000/hello.txt", headers=auth)
    assert path_style.status_code == 200 and path_style.text == "hello-from-guest\n"
    port = servers.server.port
    sub = httpx.get(
        f"http://127.0.0.1:{port}/forward/8000/hello.txt", headers={**auth, "Host": f"{sid}.localhost:{port}"}
    )
    assert sub.status_code == 200 and sub.text == "hello-from-guest\n"
    listing = httpx.get(f"{url}/s/{sid}/forward/8000/", headers=auth)
    assert listing.status_code == 200 and "hello.txt" in listing.text
    # The directory without a slash: http.server redirects; the Location stays behind the proxy.
    expect(api.post(f"/v1/sessions/{sid}/exec", json={"command": "mkdir -p /srv/www/sub"}), 200)
    redirect = httpx.get(f"{url}/s/{sid}/forward/8000/sub", headers=auth)
    assert redirect.status_code == 301 and redirect.headers["location"] == f"/s/{sid}/forward/8000/sub/"
    expect_error(httpx.get(f"{url}/s/{sid}/forward/8999/", headers=auth), 502, "port_unreachable")


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl (its own *.localhost resolution)")
def test_curl_subdomain(servers: Sandbox) -> None:
    port, sid = servers.server.port, servers.sid
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-H",
            f"Authorization: Bearer {servers.api.key}",
            f"http://{sid}.localhost:{port}/forward/8000/hello.txt",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout == "hello-from-guest\n", out.stderr
    described = subprocess.run(
        ["curl", "-sS", "-H", f"Authorization: Bearer {servers.api.key}", f"http://{sid}.localhost:{port}/"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f'"session_id": "{sid}"' in described.stdout


def test_websocket_echo_through_forward(servers: Sandbox) -> None:
    api, sid = servers.api, servers.sid
    ws_url = f"{servers.ws_base}/s/{sid}/forward/{WS_PORT}/echo"
    with connect(
        ws_url, additional_headers={"Authorization": f"Bearer {api.key}"}, subprotocols=["chat"]
    ) as ws:
        assert ws.subprotocol == "chat"
        ws.send("hello over the tunnel")
        assert ws.recv(timeout=10) == "hello over the tunnel"
        blob = bytes(range(256)) * 64
        ws.send(blob)
        assert ws.recv(timeout=20) == blob
        wait_leases(api, sid, 1)
        ws.send("close-me")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    wait_leases(api, sid, 0)
    # The subdomain form: the URL names <id>.localhost, the socket goes to loopback.
    port = servers.server.port
    sock = socket.create_connection(("127.0.0.1", port))
    with connect(
        f"ws://{sid}.localhost:{port}/forward/{WS_PORT}/",
        sock=sock,
        additional_headers={"Authorization": f"Bearer {api.key}"},
    ) as ws:
        ws.send("subdomain form")
        assert ws.recv(timeout=10) == "subdomain form"


def test_session_token_cookie_flow(servers: Sandbox) -> None:
    api, sid, url = servers.api, servers.sid, servers.server.url
    minted = expect(api.post(f"/v1/sessions/{sid}/token", json={"ttl_s": 300}), 200)
    token = minted["token"]
    with httpx.Client(follow_redirects=True) as browser:
        r = browser.get(f"{url}/s/{sid}/forward/8000/hello.txt?chaser_token={token}")
        assert r.status_code == 200 and r.text == "hello-from-guest\n"
        assert r.history and r.history[0].status_code == 302
        assert str(r.url) == f"{url}/s/{sid}/forward/8000/hello.txt"
        assert browser.cookies.get(f"chaser_session_{sid}") == token
        assert browser.get(f"{url}/s/{sid}/forward/8000/hello.txt").status_code == 200  # the cookie alone
    expect_error(httpx.get(f"{url}/s/{sid}/forward/8000/hello.txt"), 401, "unauthorized")
    # The token opens the PTY too, and nothing of the API.
    with connect(f"{servers.ws_base}/v1/sessions/{sid}/pty?mode=exec&command=echo+tok&token={token}") as ws:
        assert '"type": "pty"' in str(ws.recv(timeout=20))
    expect_error(api.with_key(token).get(f"/v1/sessions/{sid}"), 401, "unauthorized")
