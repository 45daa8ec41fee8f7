"""Background commands in a real sandbox: `exec` with `background: true`, the SSE stream with
resume (`Last-Event-ID`, `?after=`), stdin, signals, list/get, and self-test."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.factories import expect, expect_error
from tests.integration.interactive.conftest import Sandbox
from tests.integration.interactive.helpers import background, parse_sse

pytestmark = pytest.mark.gvisor


def _stream(sandbox: Sandbox, cid: str, **kwargs: object) -> list[dict[str, object]]:
    r = sandbox.api.get(f"/v1/sessions/{sandbox.sid}/commands/{cid}/stream", **kwargs)  # type: ignore[arg-type]
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.text
    return parse_sse(r.text)


def test_stream_and_resume(sandbox: Sandbox) -> None:
    started = background(
        sandbox.api, sandbox.sid, "for i in 1 2 3 4; do echo out-$i; sleep 0.2; done; echo oops >&2; exit 7"
    )
    cid = started["command_id"]
    events = _stream(sandbox, cid)
    assert events[-1]["event"] == "exit" and events[-1]["data"] == {"exit_code": 7}
    stdout = "".join(e["data"]["data"] for e in events if e["event"] == "stdout")  # type: ignore[index]
    assert stdout == "out-1\nout-2\nout-3\nout-4\n"
    assert any(e["event"] == "stderr" and "oops" in e["data"]["data"] for e in events)  # type: ignore[index]
    ids = [int(str(e["id"])) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)

    # Resume after the second event: exactly the rest, nothing repeated.
    rest = _stream(sandbox, cid, headers={"Last-Event-ID": str(ids[1])})
    assert [int(str(e["id"])) for e in rest] == ids[2:]
    assert [int(str(e["id"])) for e in _stream(sandbox, cid, params={"after": ids[-2]})] == ids[-1:]

    info = expect(sandbox.api.get(f"/v1/sessions/{sandbox.sid}/commands/{cid}"), 200)
    assert info["status"] == "exited" and info["exit_code"] == 7 and info["ended_at"]
    listed = expect(sandbox.api.get(f"/v1/sessions/{sandbox.sid}/commands"), 200)
    assert cid in [c["command_id"] for c in listed["data"]] and listed["count"] >= 1
    expect_error(sandbox.api.get(f"/v1/sessions/{sandbox.sid}/commands/nope"), 404, "command_not_found")


def test_live_stream_resumed_after_a_broken_connection(sandbox: Sandbox) -> None:
    cid = background(sandbox.api, sandbox.sid, "for i in $(seq 1 6); do echo tick-$i; sleep 0.4; done")[
        "command_id"
    ]
    seen: list[dict[str, object]] = []
    url = f"{sandbox.server.url}/v1/sessions/{sandbox.sid}/commands/{cid}/stream"
    auth = {"Authorization": f"Bearer {sandbox.api.key}"}
    with httpx.stream("GET", url, headers=auth, timeout=30) as r:
        buffer = ""
        for chunk in r.iter_text():
            buffer += chunk
            seen = parse_sse(buffer.rsplit("\n\n", 1)[0]) if "\n\n" in buffer else []
            if len([e for e in seen if e.get("event") == "stdout"]) >= 2:
                break  # drop the connection mid-stream
    last = str(seen[-1]["id"])
    rest = _stream(sandbox, cid, headers={"Last-Event-ID": last})
    text = "".join(e["data"]["data"] for e in seen + rest if e["event"] == "stdout")  # type: ignore[index]
    assert text == "".join(f"tick-{i}\n" for i in range(1, 7))


def test_stdin_and_eof(sandbox: Sandbox) -> None:
    cid = background(sandbox.api, sandbox.sid, "tr a-z A-Z")["command_id"]
    base = f"/v1/sessions/{sandbox.sid}/commands/{cid}"
    expect(sandbox.api.post(f"{base}/stdin", json={"data": "hello\n"}), 200)
    expect(sandbox.api.post(f"{base}/stdin", json={"data": "world\n", "eof": True}), 200)
    events = _stream(sandbox, cid)
    assert "".join(e["data"]["data"] for e in events if e["event"] == "stdout") == "HELLO\nWORLD\n"  # type: ignore[index]
    assert events[-1]["data"] == {"exit_code": 0}


@pytest.mark.parametrize(("signal", "number"), [("TERM", 15), ("KILL", 9), ("INT", 2)])
def test_signals(sandbox: Sandbox, signal: str, number: int) -> None:
    cid = background(sandbox.api, sandbox.sid, "exec sleep 300")["command_id"]
    time.sleep(0.3)
    expect(sandbox.api.post(f"/v1/sessions/{sandbox.sid}/commands/{cid}/kill", json={"signal": signal}), 200)
    events = _stream(sandbox, cid)
    assert events[-1]["event"] == "exit" and events[-1]["data"] == {"exit_code": 128 + number}
    info = expect(sandbox.api.get(f"/v1/sessions/{sandbox.sid}/commands/{cid}"), 200)
    assert info["status"] == "killed"
    expect_error(
        sandbox.api.post(f"/v1/sessions/{sandbox.sid}/commands/{cid}/kill", json={"signal": "NOPE"}),
        400,
        "invalid_field",
    )


def test_self_test(sandbox: Sandbox) -> None:
    report = expect(sandbox.api.post(f"/v1/sessions/{sandbox.sid}/self-test"), 200)
    assert report["session_id"] == sandbox.sid and report["ok"] is True
    assert report["tools"].get("python3") and report["shell"] and report["agent_version"]
