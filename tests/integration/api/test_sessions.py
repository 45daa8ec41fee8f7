"""Sandbox sessions over a real gVisor runtime: create, get, list, terminate, bulk-terminate,
workspace-backed reuse (contract: Sessions; decisions.md, Sessions)."""

from __future__ import annotations

import uuid

import pytest

from tests.factories import User, create_session, create_workspace, expect, expect_error, terminate

pytestmark = pytest.mark.gvisor
NOWHERE = "00000000-0000-4000-8000-000000000000"


def test_ephemeral_create_is_running_with_runtime_and_endpoints(sandbox_user: User) -> None:
    session = create_session(sandbox_user.api, ephemeral=True, unknown_future_field={"ignored": True})
    uuid.UUID(session["id"])
    assert session["session_type"] == "sandbox"
    assert session["persistence"] == "ephemeral" and session["ephemeral"] is True
    assert session["workspace_id"] is None
    assert session["runtime"] == "gvisor"
    assert session["terminated_at"] is None and session["termination_reason"] is None
    assert session["active_connection_leases"] == 0
    endpoints = session["endpoints"]
    assert endpoints["path_style"] == f"{sandbox_user.api.base_url}/s/{session['id']}/"
    assert endpoints["control"] == endpoints["path_style"]
    assert endpoints["subdomain_style"].startswith(f"http://{session['id']}.")
    assert endpoints["video"] is None
    assert expect(sandbox_user.api.get(f"/v1/sessions/{session['id']}"), 200)["status"] == "running"


def test_create_with_resources_env_and_timeout(sandbox_user: User) -> None:
    session = create_session(
        sandbox_user.api, ephemeral=True, vcpus=2, memory_mib=256, timeout_s=600, env={"GREETING": "hi"}
    )
    assert (session["vcpus"], session["memory_mib"], session["timeout_s"]) == (2, 256, 600)


def test_get_shows_the_same_session(sandbox_user: User) -> None:
    session = create_session(sandbox_user.api, ephemeral=True)
    got = expect(sandbox_user.api.get(f"/v1/sessions/{session['id']}"), 200)
    assert {k: got[k] for k in ("id", "session_type", "created_at", "runtime", "endpoints")} == {
        k: session[k] for k in ("id", "session_type", "created_at", "runtime", "endpoints")
    }


def test_terminate_is_idempotent(sandbox_user: User) -> None:
    session = create_session(sandbox_user.api, ephemeral=True)
    done = terminate(sandbox_user.api, session["id"])
    assert done["id"] == session["id"] and done["status"] == "terminated"
    assert done["termination_reason"] == "user_request" and done["terminated_at"]
    again = terminate(sandbox_user.api, session["id"])
    assert again["status"] == "terminated" and again["terminated_at"] == done["terminated_at"]
    assert expect(sandbox_user.api.get(f"/v1/sessions/{session['id']}"), 200)["status"] == "terminated"


def test_terminate_unknown_is_404(sandbox_user: User) -> None:
    expect_error(sandbox_user.api.delete(f"/v1/sessions/{NOWHERE}"), 404, "session_not_found")


def test_list_filters_and_pagination(sandbox_user: User) -> None:
    api = sandbox_user.api
    running = [create_session(api, ephemeral=True)["id"] for _ in range(2)]
    ended = create_session(api, ephemeral=True)["id"]
    terminate(api, ended)
    every = expect(api.get("/v1/sessions"), 200)
    assert every["count"] == 3 and {s["id"] for s in every["data"]} == {*running, ended}
    live = expect(api.get("/v1/sessions", params={"status": "running"}), 200)
    assert {s["id"] for s in live["data"]} == set(running) and live["count"] == 2
    gone = expect(api.get("/v1/sessions", params={"status": "terminated"}), 200)
    assert [s["id"] for s in gone["data"]] == [ended]
    assert expect(api.get("/v1/sessions", params={"session_type": "browser"}), 200)["count"] == 0
    assert expect(api.get("/v1/sessions", params={"session_type": "sandbox"}), 200)["count"] == 3
    first = expect(api.get("/v1/sessions", params={"limit": 2, "offset": 0}), 200)
    second = expect(api.get("/v1/sessions", params={"limit": 2, "offset": 2}), 200)
    assert len(first["data"]) == 2 and len(second["data"]) == 1 and first["count"] == 3
    assert {s["id"] for s in first["data"] + second["data"]} == {*running, ended}
    expect(api.post("/v1/sessions/bulk-terminate", json={"all": True}), 200)


def test_bulk_terminate_by_ids(sandbox_user: User) -> None:
    api = sandbox_user.api
    one, two, keep = (create_session(api, ephemeral=True)["id"] for _ in range(3))
    result = expect(api.post("/v1/sessions/bulk-terminate", json={"ids": [one, two, NOWHERE]}), 200)
    assert sorted(result["terminated"]) == sorted([one, two])
    assert [(f["id"], f["code"]) for f in result["failed"]] == [(NOWHERE, "session_not_found")]
    assert expect(api.get(f"/v1/sessions/{one}"), 200)["termination_reason"] == "bulk_terminate"
    assert expect(api.get(f"/v1/sessions/{keep}"), 200)["status"] == "running"
    terminate(api, keep)


def test_bulk_terminate_by_workspaces(sandbox_user: User) -> None:
    api = sandbox_user.api
    ws = create_workspace(api)
    on_ws = create_session(api, workspace=ws["name"])["id"]
    other = create_session(api, ephemeral=True)["id"]
    result = expect(api.post("/v1/sessions/bulk-terminate", json={"workspaces": [ws["name"]]}), 200)
    assert result == {"terminated": [on_ws], "failed": []}
    assert expect(api.get(f"/v1/sessions/{other}"), 200)["status"] == "running"
    terminate(api, other)


def test_bulk_terminate_all(sandbox_user: User, other_user_sandbox: User) -> None:
    api = sandbox_user.api
    mine = {create_session(api, ephemeral=True)["id"] for _ in range(2)}
    theirs = create_session(other_user_sandbox.api, ephemeral=True)["id"]
    result = expect(api.post("/v1/sessions/bulk-terminate", json={"all": True}), 200)
    assert set(result["terminated"]) == mine and result["failed"] == []
    assert expect(api.get("/v1/sessions", params={"status": "running"}), 200)["count"] == 0
    assert expect(other_user_sandbox.api.get(f"/v1/sessions/{theirs}"), 200)["status"] == "running"
    terminate(other_user_sandbox.api, theirs)


def test_workspace_backed_create_reuses_the_live_session(sandbox_user: User) -> None:
    api = sandbox_user.api
    ws = create_workspace(api)
    first = expect(api.post("/v1/sessions", json={"workspace": ws["name"]}), 201)
    assert first["persistence"] == "persistent" and first["workspace_id"] == ws["id"]
    again = expect(api.post("/v1/sessions", json={"workspace": ws["id"]}), 200)
    assert again["id"] == first["id"]
    attached = expect(api.get(f"/v1/workspaces/{ws['id']}"), 200)
    assert attached["status"] == "attached" and attached["active_session_id"] == first["id"]
    terminate(api, first["id"])
    idle = expect(api.get(f"/v1/workspaces/{ws['id']}"), 200)
    assert idle["status"] == "idle" and idle["active_session_id"] is None
    assert idle["last_session_id"] == first["id"]
    second = expect(api.post("/v1/sessions", json={"workspace": ws["name"]}), 201)
    assert second["id"] != first["id"]
    terminate(api, second["id"])


def test_delete_busy_workspace_is_409_unless_forced(sandbox_user: User) -> None:
    api = sandbox_user.api
    ws = create_workspace(api)
    session = create_session(api, workspace=ws["id"])
    expect_error(api.delete(f"/v1/workspaces/{ws['id']}"), 409, "workspace_busy")
    assert expect(api.get(f"/v1/sessions/{session['id']}"), 200)["status"] == "running"
    assert expect(api.delete(f"/v1/workspaces/{ws['id']}", params={"force": "true"}), 200)["deleted"] is True
    ended = expect(api.get(f"/v1/sessions/{session['id']}"), 200)
    assert ended["status"] == "terminated" and ended["termination_reason"] == "workspace_deleted"
    expect_error(api.get(f"/v1/workspaces/{ws['id']}"), 404, "workspace_not_found")
