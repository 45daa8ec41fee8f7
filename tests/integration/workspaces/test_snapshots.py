"""Workspace snapshots through real sandboxes: restore brings old files back, the 409 rules,
forced snapshots of a disk being written (consistent: e2fsck finds nothing), names and ids."""

from __future__ import annotations

import subprocess
import time
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
from tests.integration.workspaces.conftest import disk_image, snapshot_files


def write(api: Any, ws: dict[str, Any], text: str) -> None:
    s = create_session(api, workspace=ws["id"])
    assert run(api, s["id"], f"echo {text} > /workspace/state.txt && sync")["exit_code"] == 0
    terminate(api, s["id"])


def read(api: Any, ws: dict[str, Any]) -> str:
    s = create_session(api, workspace=ws["id"])
    out = run(api, s["id"], "cat /workspace/state.txt")["output"].strip()
    terminate(api, s["id"])
    return str(out)


def snapshot(api: Any, ws: dict[str, Any], name: str, **params: Any) -> dict[str, Any]:
    return expect(api.post(f"/v1/workspaces/{ws['id']}/snapshots", json={"name": name}, params=params), 201)


def test_snapshot_change_restore_brings_the_old_content_back(owner: User, storage_server: Server) -> None:
    api = owner.api
    ws = create_workspace(api, name=new_name("snap"))
    write(api, ws, "one")
    snap = snapshot(api, ws, "Before")
    assert set(snap) >= {"id", "name", "size_bytes", "created_at", "workspace_id"}
    assert snap["name"] == "Before" and snap["size_bytes"] > 0
    write(api, ws, "two")
    assert read(api, ws) == "two"

    # restore by name (case-insensitive), later by id
    done = expect(api.post(f"/v1/workspaces/{ws['name']}/snapshots/before/restore"), 200)
    assert done["snapshot"]["id"] == snap["id"] and done["terminated_session_ids"] == []
    assert read(api, ws) == "one"
    write(api, ws, "three")
    expect(api.post(f"/v1/workspaces/{ws['id']}/snapshots/{snap['id']}/restore"), 200)
    assert read(api, ws) == "one"

    listed = expect(api.get(f"/v1/workspaces/{ws['id']}/snapshots"), 200)
    assert listed["count"] == 1 and listed["data"][0]["id"] == snap["id"]
    assert expect(api.get(f"/v1/workspaces/{ws['id']}/snapshots/BEFORE"), 200)["id"] == snap["id"]
    assert len(snapshot_files(storage_server, ws["id"])) == 1


def test_names_unique_per_workspace_and_unknown_snapshot_is_404(owner: User) -> None:
    api = owner.api
    ws = create_workspace(api)
    other = create_workspace(api)
    snapshot(api, ws, "same")
    expect_error(api.post(f"/v1/workspaces/{ws['id']}/snapshots", json={"name": "SAME"}), 409, "name_taken")
    snapshot(api, other, "same")  # another workspace: fine
    for path in ("nope", "00000000-0000-4000-8000-000000000000"):
        expect_error(api.get(f"/v1/workspaces/{ws['id']}/snapshots/{path}"), 404, "snapshot_not_found")
        expect_error(
            api.post(f"/v1/workspaces/{ws['id']}/snapshots/{path}/restore"), 404, "snapshot_not_found"
        )
        expect_error(api.delete(f"/v1/workspaces/{ws['id']}/snapshots/{path}"), 404, "snapshot_not_found")
    expect_error(
        api.post(f"/v1/workspaces/{ws['id']}/snapshots", json={"name": "bad name"}), 400, "invalid_field"
    )


def test_live_session_blocks_snapshot_and_restore_unless_forced(owner: User, storage_server: Server) -> None:
    api = owner.api
    ws = create_workspace(api)
    write(api, ws, "kept")
    snap = snapshot(api, ws, "kept")
    s = create_session(api, workspace=ws["id"])
    run(api, s["id"], "echo changed > /workspace/state.txt")

    expect_error(api.post(f"/v1/workspaces/{ws['id']}/snapshots", json={"name": "x"}), 409, "workspace_busy")
    expect_error(api.post(f"/v1/workspaces/{ws['id']}/snapshots/kept/restore"), 409, "workspace_busy")
    assert expect(api.get(f"/v1/sessions/{s['id']}"), 200)["status"] == "running"
    assert expect(api.get(f"/v1/workspaces/{ws['id']}/snapshots"), 200)["count"] == 1, "nothing half-made"

    # deleting a snapshot does not touch the disk: allowed while attached
    extra = snapshot(api, ws, "extra", force="true")
    expect(api.delete(f"/v1/workspaces/{ws['id']}/snapshots/{extra['id']}"), 200)

    done = expect(
        api.post(f"/v1/workspaces/{ws['id']}/snapshots/kept/restore", params={"force": "true"}), 200
    )
    assert done["terminated_session_ids"] == [s["id"]]
    gone = expect(api.get(f"/v1/sessions/{s['id']}"), 200)
    assert gone["status"] == "terminated" and gone["termination_reason"] == "workspace_restored"
    assert read(api, ws) == "kept"
    assert snap["id"] == done["snapshot"]["id"]


def test_forced_snapshot_while_a_writer_runs_is_consistent(owner: User, storage_server: Server) -> None:
    api = owner.api
    ws = create_workspace(api)
    s = create_session(api, workspace=ws["id"])
    writer = (
        "i=0; while true; do i=$((i+1)); echo line-$i >> /workspace/log.txt; "
        "head -c 65536 /dev/urandom > /workspace/blob-$((i % 8)); done"
    )
    started = expect(
        api.post(f"/v1/sessions/{s['id']}/exec", json={"command": writer, "background": True}), 200
    )
    time.sleep(2)
    snap = snapshot(api, ws, "hot", force="true")
    time.sleep(0.5)
    after = run(api, s["id"], "wc -l < /workspace/log.txt")["output"].strip()
    assert int(after) > 0, "the writer kept going after the freeze"
    expect(
        api.post(f"/v1/sessions/{s['id']}/commands/{started['command_id']}/kill", json={"signal": "KILL"}),
        200,
    )
    terminate(api, s["id"])

    for image in snapshot_files(storage_server, ws["id"]):
        fsck = subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True, text=True)
        assert fsck.returncode == 0, f"snapshot image not clean:\n{fsck.stdout}\n{fsck.stderr}"
    expect(api.post(f"/v1/workspaces/{ws['id']}/snapshots/{snap['id']}/restore"), 200)
    fsck = subprocess.run(
        ["e2fsck", "-fn", str(disk_image(storage_server, ws["id"]))], capture_output=True, text=True
    )
    assert fsck.returncode == 0, f"restored disk not clean:\n{fsck.stdout}\n{fsck.stderr}"

    s2 = create_session(api, workspace=ws["id"])
    lines = run(api, s2["id"], "cat /workspace/log.txt")["output"].splitlines()
    assert lines, "the snapshot holds what was written before it"
    assert lines == [f"line-{i}" for i in range(1, len(lines) + 1)], "no torn or missing lines"
    assert len(lines) < int(after), "the snapshot is older than what the writer reached"
    terminate(api, s2["id"])


def test_deleting_a_workspace_deletes_its_snapshots(owner: User, storage_server: Server) -> None:
    api = owner.api
    ws = create_workspace(api)
    snapshot(api, ws, "a")
    snapshot(api, ws, "b")
    files = snapshot_files(storage_server, ws["id"])
    assert len(files) == 2
    s = create_session(api, workspace=ws["id"])
    expect_error(api.delete(f"/v1/workspaces/{ws['id']}"), 409, "workspace_busy")
    expect(api.delete(f"/v1/workspaces/{ws['id']}", params={"force": "true"}), 200)
    assert expect(api.get(f"/v1/sessions/{s['id']}"), 200)["termination_reason"] == "workspace_deleted"
    expect_error(api.get(f"/v1/workspaces/{ws['id']}/snapshots"), 404, "workspace_not_found")
    assert not [p for p in files if p.exists()], "the host dropped the snapshot images too"
