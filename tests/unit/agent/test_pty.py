"""The `pty` op in-process (over a socketpair): attach, detach with a delivered offset, reattach."""

from __future__ import annotations

import json

from chaser.agent.protocol import Frame, FrameType, encode_json, read_frame

from .harness import FakeHost


def _until(host: FakeHost, channel: int, marker: bytes) -> tuple[bytes, list[dict[str, object]]]:
    data, events = b"", []
    while marker not in data:
        frame = read_frame(host.sock)
        assert frame is not None and frame.channel == channel, frame
        if frame.type is FrameType.DATA:
            data += frame.payload
        elif frame.type is FrameType.EVENT:
            events.append(frame.json())
        else:
            raise AssertionError(f"unexpected {frame}")
    return data, events


def _closed(host: FakeHost, channel: int) -> Frame:
    while True:
        frame = read_frame(host.sock)
        assert frame is not None
        if frame.type is FrameType.CLOSE and frame.channel == channel:
            return frame


def test_detach_then_reattach_replays_from_the_delivered_offset(host: FakeHost) -> None:
    first = host.open("pty", {"mode": "agent", "cols": 100, "rows": 30, "cwd": "/tmp", "grace_s": 5})
    hello = read_frame(host.sock)
    assert hello is not None and hello.json()["type"] == "pty"
    pty_id = hello.json()["pty_id"]
    host.send(FrameType.DATA, first, b"echo one; stty size\n")
    data, _ = _until(host, first, b"30 100")
    assert data == b"one\r\n30 100\r\n"  # agent mode: no prompt, no echo

    # The client says it only got "one\r\n"; the rest must be replayed.
    host.send(FrameType.CLOSE, first, json.dumps({"delivered": 5}).encode())
    assert "result" in _closed(host, first).json()

    second = host.open("pty", {"pty_id": pty_id})
    data, events = _until(host, second, b"30 100\r\n")
    assert events[0]["replayed"] == len(b"30 100\r\n") and events[0]["offset"] == 5
    host.sock.sendall(encode_json(FrameType.EVENT, second, {"type": "resize", "cols": 40, "rows": 10}))
    host.send(FrameType.DATA, second, b"stty size; exit 3\n")
    data, _ = _until(host, second, b"10 40")
    exit_event = read_frame(host.sock)
    while exit_event is not None and exit_event.type is FrameType.DATA:
        exit_event = read_frame(host.sock)
    assert exit_event is not None and exit_event.json() == {"type": "exit", "code": 3}
    assert _closed(host, second).json()["result"]["exit_code"] == 3


def test_unknown_pty_and_bad_arguments(host: FakeHost) -> None:
    assert host.call("pty", {"pty_id": "pty-nope"}, stdin=None).error_code == "pty_not_found"
    assert host.call("pty", {"mode": "exec"}, stdin=None).error_code == "bad_request"
    assert host.call("pty", {"mode": "nope"}, stdin=None).error_code == "bad_request"
    assert host.call("pty", {"cols": 0}, stdin=None).error_code == "bad_request"
    assert host.call("pty_resize", {"pty_id": "pty-nope"}, stdin=None).error_code == "pty_not_found"
