"""Account isolation: another account's session and workspace ids answer 404 on every route, and
nothing of theirs is touched (contract: "never leak existence")."""

from __future__ import annotations

import pytest

from tests.factories import (
    User,
    create_session,
    create_workspace,
    expect,
    expect_error,
    make_user,
    new_name,
    run,
)

pytestmark = pytest.mark.gvisor


def test_other_accounts_sessions_and_workspaces_are_404_everywhere(
    sandbox_user: User, sqlite_server: object
) -> None:
    owner = sandbox_user.api
    stranger = make_user(sqlite_server).api
    ws = create_workspace(owner)
    session = create_session(owner, workspace=ws["id"])
    sid = session["id"]
    session_routes = [
        ("GET", f"/v1/sessions/{sid}", {}),
        ("DELETE", f"/v1/sessions/{sid}", {}),
        ("DELETE", f"/v1/sessions/{sid}", {"params": {"force": "true"}}),
        ("POST", f"/v1/sessions/{sid}/exec", {"json": {"command": "touch /workspace/pwned"}}),
        (
            "POST",
            f"/v1/sessions/{sid}/upload",
            {"data": {"path": "/workspace/pwned"}, "files": {"file": b"x"}},
        ),
        ("GET", f"/v1/sessions/{sid}/download", {"params": {"path": "/etc/hostname"}}),
    ]
    for method, path, kwargs in session_routes:
        expect_error(stranger.request(method, path, **kwargs), 404, "session_not_found")
    for selector in (ws["id"], ws["name"]):
        for method, path, kwargs in [
            ("GET", f"/v1/workspaces/{selector}", {}),
            ("PUT", f"/v1/workspaces/{selector}/name", {"json": {"name": new_name()}}),
            ("PUT", f"/v1/workspaces/{selector}/template", {"json": {"template": True}}),
            ("DELETE", f"/v1/workspaces/{selector}", {"params": {"force": "true"}}),
            ("POST", "/v1/sessions", {"json": {"workspace": selector}}),
        ]:
            expect_error(stranger.request(method, path, **kwargs), 404, "workspace_not_found")
    bulk = expect(stranger.post("/v1/sessions/bulk-terminate", json={"ids": [sid]}), 200)
    assert bulk["terminated"] == [] and [f["code"] for f in bulk["failed"]] == ["session_not_found"]
    expect(stranger.post("/v1/sessions/bulk-terminate", json={"all": True}), 200)
    assert expect(stranger.get("/v1/sessions"), 200)["count"] == 0
    assert expect(stranger.get("/v1/workspaces"), 200)["count"] == 0
    # The owner's things are untouched.
    assert expect(owner.get(f"/v1/sessions/{sid}"), 200)["status"] == "running"
    assert run(owner, sid, "test -e /workspace/pwned; echo $?")["output"] == "1\n"
    kept = expect(owner.get(f"/v1/workspaces/{ws['id']}"), 200)
    assert kept["name"] == ws["name"] and kept["template"] is False
    expect(owner.delete(f"/v1/sessions/{sid}"), 200)
