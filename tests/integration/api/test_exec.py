"""`POST /v1/sessions/{id}/exec` in a real sandbox: cwd, env, stdin, timeout_ms, user, exit codes
and the 1 MiB output cap (decisions.md, Sessions). The read-only commands share one session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import Api, User, create_session, expect, expect_error, make_user, run, terminate

pytestmark = pytest.mark.gvisor
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def shell(runtime_module: None, sqlite_server: Any) -> Iterator[tuple[Api, str]]:
    api = make_user(sqlite_server).api
    session = create_session(api, ephemeral=True, env={"SESSION_VAR": "from-create"})
    yield api, session["id"]
    terminate(api, session["id"])


def test_echo_result_shape(shell: tuple[Api, str]) -> None:
    api, sid = shell
    result = run(api, sid, "echo hello")
    assert result["session_id"] == sid and result["command"] == "echo hello"
    assert result["kind"] == "exec" and result["status"] == "completed" and result["background"] is False
    assert result["exit_code"] == 0 and result["output"] == "hello\n" and result["output_truncated"] is False
    assert result["ephemeral"] is True and result["workspace_id"] is None
    assert {"command_id", "pid", "workspace"} <= set(result)


def test_nonzero_exit_code(shell: tuple[Api, str]) -> None:
    api, sid = shell
    result = run(api, sid, "echo oops >&2; exit 3")
    assert result["exit_code"] == 3 and result["status"] == "completed"
    assert "oops" in result["output"]


def test_cwd(shell: tuple[Api, str]) -> None:
    api, sid = shell
    assert run(api, sid, "pwd", cwd="/tmp")["output"] == "/tmp\n"


def test_env_and_session_env(shell: tuple[Api, str]) -> None:
    api, sid = shell
    result = run(api, sid, 'printf "%s %s" "$FOO" "$SESSION_VAR"', env={"FOO": "bar baz"})
    assert result["output"] == "bar baz from-create"


def test_stdin(shell: tuple[Api, str]) -> None:
    api, sid = shell
    assert run(api, sid, "tr a-z A-Z", stdin="hello\nworld\n")["output"] == "HELLO\nWORLD\n"


def test_timeout_ms_kills_the_command(shell: tuple[Api, str]) -> None:
    api, sid = shell
    started = time.monotonic()
    result = run(api, sid, "sleep 30", timeout_ms=500)
    assert result["status"] == "timed_out" and result["exit_code"] is None
    assert time.monotonic() - started < 15
    assert run(api, sid, "echo still-alive")["output"] == "still-alive\n"


@pytest.mark.parametrize(("user", "expected"), [(None, "root"), ("root", "root"), ("nobody", "nobody")])
def test_user(shell: tuple[Api, str], user: str | None, expected: str) -> None:
    api, sid = shell
    body = {} if user is None else {"user": user}
    assert run(api, sid, "whoami", **body)["output"] == f"{expected}\n"


def test_output_is_capped_at_one_mib(shell: tuple[Api, str]) -> None:
    api, sid = shell
    result = run(api, sid, "head -c 3000000 /dev/zero | tr '\\0' a; echo; echo done")
    assert result["output_truncated"] is True and result["exit_code"] == 0
    assert MIB - 1024 <= len(result["output"].encode()) <= MIB


def test_output_just_under_the_cap_is_whole(shell: tuple[Api, str]) -> None:
    api, sid = shell
    result = run(api, sid, f"head -c {MIB - 10} /dev/zero | tr '\\0' b")
    assert result["output_truncated"] is False and len(result["output"]) == MIB - 10


@pytest.mark.parametrize(
    "body",
    [
        {"command": ""},
        {},
        {"command": 7},
        {"command": "true", "timeout_ms": 0},
        {"command": "true", "timeout_ms": 3_600_001},
        {"command": "true", "env": {"1X": "y"}},
        {"command": "true", "cwd": 5},
    ],
)
def test_bad_exec_body_is_invalid_field(shell: tuple[Api, str], body: dict[str, Any]) -> None:
    api, sid = shell
    expect_error(api.post(f"/v1/sessions/{sid}/exec", json=body), 400, "invalid_field")


def test_background_returns_at_once_with_a_command_id(shell: tuple[Api, str]) -> None:
    """decisions.md, Interactive sessions: 200, `running`, `command_id`, `pid`, no exit code or output."""
    api, sid = shell
    started = time.monotonic()
    result = run(api, sid, "sleep 5", background=True)
    assert time.monotonic() - started < 4
    assert result["background"] is True and result["status"] == "running"
    assert result["command_id"] and isinstance(result["pid"], int)
    assert result["exit_code"] is None and result["output"] == ""
    expect(api.post(f"/v1/sessions/{sid}/commands/{result['command_id']}/kill", json={}), 200)


def test_exec_on_terminated_session_is_409(sandbox_user: User) -> None:
    session = create_session(sandbox_user.api, ephemeral=True)
    terminate(sandbox_user.api, session["id"])
    resp = sandbox_user.api.post(f"/v1/sessions/{session['id']}/exec", json={"command": "true"})
    expect_error(resp, 409, "session_not_open")


def test_exec_on_unknown_session_is_404(sandbox_user: User) -> None:
    resp = sandbox_user.api.post(
        "/v1/sessions/00000000-0000-4000-8000-000000000000/exec", json={"command": "true"}
    )
    expect_error(resp, 404, "session_not_found")


@pytest.mark.parametrize("body", [{"user": "no-such-user"}, {"cwd": "/no/such/dir"}, {"cwd": "relative"}])
def test_impossible_exec_context_is_a_clear_error(shell: tuple[Api, str], body: dict[str, Any]) -> None:
    """Not pinned by decisions.md: either a 4xx error body or a completed command with a nonzero
    exit code and a message; never a 500."""
    api, sid = shell
    resp = api.post(f"/v1/sessions/{sid}/exec", json={"command": "true", **body})
    if resp.status_code == 200:
        assert resp.json()["exit_code"] not in (0, None) and resp.json()["output"], resp.text
    else:
        assert resp.status_code == 400 and resp.json()["error"]["code"] in {
            "invalid_field",
            "invalid_request",
        }, resp.text
