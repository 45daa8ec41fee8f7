"""Connection leases with a real sandbox: a PTY socket, a command's SSE stream and a forwarded
request each hold one while open; abrupt client disconnects release them; `DELETE` answers 409
`active_connections` unless `force=true`, which closes the streams; bulk-terminate honours it."""

from __future__ import annotations

import socket

import pytest
import websockets

from tests.factories import create_session, expect, expect_error
from tests.integration.interactive.conftest import Sandbox
from tests.integration.interactive.helpers import background, leases, open_terminal, wait_leases

pytestmark = pytest.mark.gvisor


def _raw_sse(sandbox: Sandbox, cid: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", sandbox.server.port))
    sock.sendall(
        f"GET /v1/sessions/{sandbox.sid}/commands/{cid}/stream HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {sandbox.api.key}\r\n\r\n".encode()
    )
    assert b" 200 " in sock.recv(4096)
    return sock


def test_counting_and_abrupt_disconnects(sandbox: Sandbox) -> None:
    api, sid = sandbox.api, sandbox.sid
    assert leases(api, sid) == 0
    cid = background(api, sid, "sleep 120")["command_id"]
    stream = _raw_sse(sandbox, cid)
    wait_leases(api, sid, 1)
    term = open_terminal(sandbox.ws_base, api, sid)
    wait_leases(api, sid, 2)
    # Neither says goodbye: the TCP connections just close.
    term.ws.socket.close()
    stream.close()
    wait_leases(api, sid, 0)
    expect(api.post(f"/v1/sessions/{sid}/commands/{cid}/kill", json={"signal": "KILL"}), 200)


def test_409_then_force_closes_streams(runtime: None, sandbox: Sandbox) -> None:
    api = sandbox.api
    victim = Sandbox(sandbox.server, api, create_session(api, ephemeral=True)["id"])
    cid = background(api, victim.sid, "sleep 120")["command_id"]
    stream = _raw_sse(victim, cid)
    term = open_terminal(victim.ws_base, api, victim.sid)
    wait_leases(api, victim.sid, 2)
    expect_error(api.delete(f"/v1/sessions/{victim.sid}"), 409, "active_connections")
    bulk = expect(api.post("/v1/sessions/bulk-terminate", json={"ids": [victim.sid]}), 200)
    assert bulk["terminated"] == [] and bulk["failed"][0]["code"] == "active_connections"
    assert expect(api.get(f"/v1/sessions/{victim.sid}"), 200)["status"] == "running"

    done = expect(api.delete(f"/v1/sessions/{victim.sid}?force=true"), 200)
    assert done["status"] == "terminated" and done["active_connection_leases"] == 0
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            term.ws.recv(timeout=20)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409
    stream.settimeout(20)
    while stream.recv(4096):
        pass  # the server ends the SSE response
    stream.close()
    # A socket to the terminated session is refused with 4409.
    ws = websockets.sync.client.connect(
        f"{victim.ws_base}/v1/sessions/{victim.sid}/pty",
        additional_headers={"Authorization": f"Bearer {api.key}"},
    )
    with pytest.raises(websockets.ConnectionClosed) as refused:
        ws.recv(timeout=10)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4409
