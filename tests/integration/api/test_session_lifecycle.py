"""Session status is reconciled with the runtime: the lifetime limit ends a session, a sandbox that
dies outside the API shows `terminated`, and racing creates never attach a disk twice."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.factories import Api, User, create_session, create_workspace, expect, expect_error, run, terminate

pytestmark = pytest.mark.gvisor


def wait_terminated(api: Api, session_id: str, timeout_s: float = 45) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        session = expect(api.get(f"/v1/sessions/{session_id}"), 200)
        if session["status"] == "terminated":
            return session
        time.sleep(0.5)
    raise AssertionError(f"session {session_id} still {session['status']} after {timeout_s}s")


def test_timeout_s_ends_the_session(sandbox_user: User) -> None:
    session = create_session(sandbox_user.api, ephemeral=True, timeout_s=2)
    ended = wait_terminated(sandbox_user.api, session["id"])
    assert ended["termination_reason"] == "timeout" and ended["terminated_at"]
    resp = sandbox_user.api.post(f"/v1/sessions/{session['id']}/exec", json={"command": "true"})
    expect_error(resp, 409, "session_not_open")


def test_a_sandbox_killed_outside_the_api_shows_terminated(sandbox_user: User, sqlite_server: Any) -> None:
    api = sandbox_user.api
    ws = create_workspace(api)
    session = create_session(api, workspace=ws["id"])  # workspace sessions boot under their own id
    runsc_root = Path(sqlite_server.data_dir) / "host" / "runsc-root"
    subprocess.run(["runsc", "--root", str(runsc_root), "kill", session["id"], "KILL"], check=True)
    ended = wait_terminated(api, session["id"])
    assert ended["termination_reason"] == "vm_exited"
    idle = expect(api.get(f"/v1/workspaces/{ws['id']}"), 200)
    assert idle["status"] == "idle" and idle["active_session_id"] is None
    again = create_session(api, workspace=ws["id"])
    assert run(api, again["id"], "echo back")["output"] == "back\n"
    terminate(api, again["id"])


def test_a_sandbox_over_its_memory_limit_ends_with_that_reason(sandbox_user: User) -> None:
    api = sandbox_user.api
    session = create_session(api, ephemeral=True, memory_mib=128)
    hog = api.post(
        f"/v1/sessions/{session['id']}/exec", json={"command": "python3 -c 'b = bytearray(300 << 20)'"}
    )
    assert hog.status_code >= 400, hog.text  # the VM died under the exec
    ended = wait_terminated(api, session["id"])
    assert ended["termination_reason"] == "memory_limit_exceeded"


def test_racing_creates_on_one_workspace_share_one_session(sandbox_user: User) -> None:
    api = sandbox_user.api
    ws = create_workspace(api)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: api.post("/v1/sessions", json={"workspace": ws["id"]}), range(4)))
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 201], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    running = expect(api.get("/v1/sessions", params={"status": "running"}), 200)
    assert running["count"] == 1
    terminate(api, answers[0].json()["id"])


def test_racing_workspace_creates_with_one_name(sandbox_user: User) -> None:
    api = sandbox_user.api
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda n: api.post("/v1/workspaces", json={"name": n}), ["Same"] * 2 + ["same"] * 2)
        )
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], [r.text for r in answers]
    assert expect(api.get("/v1/workspaces"), 200)["count"] == 1


def test_provisioned_exec_on_a_workspace_reuses_its_sandbox(sandbox_user: User) -> None:
    api = sandbox_user.api
    ws = create_workspace(api)
    first = expect(
        api.post("/v1/exec", json={"workspace": ws["name"], "command": "echo one > /workspace/f"}), 200
    )
    assert first["workspace_id"] == ws["id"] and first["workspace"] == ws["name"] and first["exit_code"] == 0
    second = expect(api.post("/v1/exec", json={"workspace": ws["id"], "command": "cat /workspace/f"}), 200)
    assert second["session_id"] == first["session_id"] and second["output"] == "one\n"
    terminate(api, first["session_id"])


def test_provisioned_exec_ephemeral(sandbox_user: User) -> None:
    api = sandbox_user.api
    result = expect(api.post("/v1/exec", json={"ephemeral": True, "command": "echo $((6 * 7))"}), 200)
    assert result["output"] == "42\n" and result["ephemeral"] is True and result["workspace_id"] is None
    terminate(api, result["session_id"])
