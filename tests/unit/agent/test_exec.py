from __future__ import annotations

import time
from pathlib import Path

from chaser.agent.protocol import PROTOCOL_VERSION, FrameType

from .harness import FakeHost


def test_hello_carries_version_and_token(host: FakeHost) -> None:
    assert host.hello["token"] == "tok"
    assert host.hello["protocol"] == PROTOCOL_VERSION == 2
    assert host.hello["version"]


def test_ping_and_unknown_op(host: FakeHost) -> None:
    assert host.call("ping", stdin=None).result == {}
    assert host.call("nope", stdin=None).error_code == "unknown_op"


def test_exec_merges_output_and_reports_exit(host: FakeHost) -> None:
    reply = host.call("exec", {"command": "echo out; echo err >&2; exit 3"})
    assert reply.data == b"out\nerr\n"
    assert reply.result["exit_code"] == 3
    assert reply.result["timed_out"] is False
    assert reply.result["truncated"] is False
    assert [e["type"] for e in reply.events] == ["started", "exit"]
    assert reply.events[0]["pid"] == reply.result["pid"]


def test_exec_cwd_env_and_stdin(host: FakeHost, tmp_path: Path) -> None:
    reply = host.call(
        "exec",
        {
            "command": 'pwd; echo "$GREETING"; cat | tr a-z A-Z',
            "cwd": str(tmp_path),
            "env": {"GREETING": "hi"},
        },
        stdin=b"from stdin\n",
    )
    assert reply.data.decode().splitlines() == [str(tmp_path), "hi", "FROM STDIN"]
    assert reply.result["exit_code"] == 0


def test_exec_does_not_leak_the_agent_token(host: FakeHost, monkeypatch: object) -> None:
    reply = host.call("exec", {"command": "env | grep -c CHASER_AGENT_TOKEN || true"})
    assert reply.data.strip() == b"0"


def test_exec_missing_cwd_is_an_error(host: FakeHost) -> None:
    assert host.call("exec", {"command": "true", "cwd": "/nonexistent/dir"}).error_code == "invalid_cwd"


def test_exec_as_another_user(host: FakeHost) -> None:
    reply = host.call("exec", {"command": "id -u; echo $HOME", "user": "nobody", "cwd": "/"})
    assert reply.data.decode().split() == ["65534", "/nonexistent"]
    assert host.call("exec", {"command": "true", "user": "no-such-user"}).error_code == "unknown_user"


def test_exec_timeout_kills_the_process_group(host: FakeHost, tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    started = time.monotonic()
    reply = host.call(
        "exec", {"command": f"(sleep 1; touch {marker}) & echo started; sleep 30", "timeout_ms": 300}
    )
    assert time.monotonic() - started < 3
    assert reply.data == b"started\n"
    assert reply.result["timed_out"] is True
    assert reply.result["exit_code"] is None
    time.sleep(1.3)
    assert not marker.exists(), "the background child outlived the timeout"


def test_exec_truncates_output_but_runs_to_completion(host: FakeHost, tmp_path: Path) -> None:
    marker = tmp_path / "done"
    reply = host.call(
        "exec",
        {"command": f"head -c 300000 /dev/zero; touch {marker}; exit 7", "max_output_bytes": 1000},
    )
    assert len(reply.data) == 1000
    assert reply.result["truncated"] is True
    assert reply.result["exit_code"] == 7
    assert marker.exists()


def test_exec_signal_exit_code_is_128_plus_n(host: FakeHost) -> None:
    assert host.call("exec", {"command": "kill -TERM $$"}).result["exit_code"] == 128 + 15


def test_exec_background_child_holding_output_does_not_block(host: FakeHost) -> None:
    started = time.monotonic()
    reply = host.call("exec", {"command": "sleep 5 & echo bg"})
    assert reply.result["exit_code"] == 0
    assert time.monotonic() - started < 2.5


def test_host_close_cancels_a_running_exec(host: FakeHost) -> None:
    channel = host.open("exec", {"command": "sleep 30"})
    host.send(FrameType.EOF, channel)
    time.sleep(0.2)
    host.send(FrameType.CLOSE, channel)
    assert host.collect(channel).error_code == "cancelled"


def test_channels_run_concurrently(host: FakeHost) -> None:
    slow = host.open("exec", {"command": "sleep 0.5; echo slow"})
    host.send(FrameType.EOF, slow)
    fast = host.open("exec", {"command": "echo fast"})
    host.send(FrameType.EOF, fast)
    started = time.monotonic()
    replies = host.collect_many([slow, fast])
    assert replies[fast].data == b"fast\n" and replies[slow].data == b"slow\n"
    assert time.monotonic() - started < 1.5
