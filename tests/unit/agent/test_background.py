from __future__ import annotations

import pytest

from chaser.agent.errors import BadRequest
from chaser.agent.process.background import parse_signal

from .harness import FakeHost


@pytest.mark.parametrize(("value", "number"), [("TERM", 15), ("sigint", 2), ("SIGKILL", 9), (1, 1), ("9", 9)])
def test_parse_signal(value: object, number: int) -> None:
    assert parse_signal(value) == number


@pytest.mark.parametrize("value", ["NOPE", "", 0 - 1, 999, None, "SIG"])
def test_parse_signal_rejects(value: object) -> None:
    with pytest.raises(BadRequest):
        parse_signal(value)


def test_command_events_in_process(host: FakeHost) -> None:
    started = host.call("command_start", {"command": "echo out; echo err >&2; exit 2", "cwd": "/tmp"})
    command_id = started.result["command_id"]
    reply = host.call("command_events", {"command_id": command_id}, stdin=None)
    kinds = {e["type"]: e for e in reply.events}
    assert kinds["exit"]["exit_code"] == 2
    assert "".join(e["data"] for e in reply.events if e["type"] == "stdout") == "out\n"
    assert "".join(e["data"] for e in reply.events if e["type"] == "stderr") == "err\n"
    assert host.call("command_get", {"command_id": "nope"}).error_code == "command_not_found"
