"""Storage quotas in real bytes (a server with 24 MiB per workspace, 40 MiB per account):
refusals are 403 `quota_exceeded` at create, snapshot, clone and session attach, and leave
nothing behind (no row, no disk, no snapshot file, no session)."""

from __future__ import annotations

from typing import Any

from tests.factories import (
    User,
    create_session,
    create_workspace,
    expect,
    expect_error,
    new_name,
    run,
    terminate,
)
from tests.integration.conftest import Server
from tests.integration.workspaces.conftest import ACCOUNT_QUOTA, MiB, disk_files, snapshot_files


def fill(api: Any, ws: dict[str, Any], mib: int) -> None:
    s = create_session(api, workspace=ws["id"])
    out = run(api, s["id"], f"head -c {mib * MiB} /dev/urandom > /workspace/fill.bin && sync && echo done")
    assert out["output"].strip() == "done", out
    terminate(api, s["id"])


def test_create_is_refused_past_the_account_quota(quota_owner: User, quota_server: Server) -> None:
    api = quota_owner.api
    made = 0
    while True:
        assert made < 40, "the account quota never refused a create"
        disks_before = disk_files(quota_server)
        resp = api.post("/v1/workspaces", json={"name": new_name("q")})
        if resp.status_code == 403:
            break
        expect(resp, 201)
        made += 1
    message = expect_error(resp, 403, "quota_exceeded")
    assert "quota" in message and str(ACCOUNT_QUOTA) in message
    assert made >= 1
    assert expect(api.get("/v1/workspaces"), 200)["count"] == made, "no row left behind"
    assert disk_files(quota_server) == disks_before, "no disk left behind"


def test_snapshot_and_clone_refused_past_the_account_quota(quota_owner: User, quota_server: Server) -> None:
    api = quota_owner.api
    ws = create_workspace(api, name=new_name("big"))
    fill(api, ws, 18)  # ~22 MiB with the filesystem (under 24 MiB); a copy would pass 40 MiB
    size = expect(api.get(f"/v1/workspaces/{ws['id']}"), 200)["size_bytes"]
    assert 18 * MiB < size < 24 * MiB, size

    expect_error(api.post(f"/v1/workspaces/{ws['id']}/snapshots", json={"name": "s"}), 403, "quota_exceeded")
    assert expect(api.get(f"/v1/workspaces/{ws['id']}/snapshots"), 200)["count"] == 0
    assert snapshot_files(quota_server, ws["id"]) == []

    disks_before = disk_files(quota_server)
    name = new_name("clone")
    expect_error(
        api.post("/v1/workspaces", json={"clone_from": ws["id"], "name": name}), 403, "quota_exceeded"
    )
    expect_error(api.get(f"/v1/workspaces/{name}"), 404, "workspace_not_found")
    assert disk_files(quota_server) == disks_before

    # making room (a smaller file) lets the snapshot through, and its size is reported
    s = create_session(api, workspace=ws["id"])
    run(
        api,
        s["id"],
        "rm /workspace/fill.bin && head -c 4194304 /dev/urandom > /workspace/small && sync",
    )
    terminate(api, s["id"])
    snap = expect(api.post(f"/v1/workspaces/{ws['id']}/snapshots", json={"name": "small"}), 201)
    assert snap["size_bytes"] > 4 * MiB


def test_session_attach_refused_when_the_workspace_is_over_its_quota(quota_owner: User) -> None:
    api = quota_owner.api
    ws = create_workspace(api)
    fill(api, ws, 26)  # over the 24 MiB per-workspace quota (the disk itself is bigger)
    sessions_before = expect(api.get("/v1/sessions"), 200)["count"]
    message = expect_error(api.post("/v1/sessions", json={"workspace": ws["id"]}), 403, "quota_exceeded")
    assert "workspace" in message
    assert expect(api.get("/v1/sessions"), 200)["count"] == sessions_before, "no session record"
    assert expect(api.get(f"/v1/workspaces/{ws['id']}"), 200)["status"] == "idle"
    expect_error(api.post("/v1/exec", json={"workspace": ws["id"], "command": "true"}), 403, "quota_exceeded")
    expect_error(api.post("/v1/workspaces", json={"clone_from": ws["id"]}), 403, "quota_exceeded")
