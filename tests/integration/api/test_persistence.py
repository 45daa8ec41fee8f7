"""A workspace outlives its sessions: what one session writes under /workspace, the next one reads.
One round trip runs on each records backend."""

from __future__ import annotations

import pytest

from tests.factories import User, create_session, create_workspace, expect, run, terminate

pytestmark = pytest.mark.gvisor


@pytest.fixture
def persistent_user(runtime: None, user: User) -> User:
    return user


def test_file_written_in_one_session_is_read_in_the_next(persistent_user: User) -> None:
    api = persistent_user.api
    ws = create_workspace(api)
    first = create_session(api, workspace=ws["name"])
    assert (
        run(api, first["id"], "echo 'hello from the first session' > /workspace/hello.txt && sync")[
            "exit_code"
        ]
        == 0
    )
    terminate(api, first["id"])
    second = create_session(api, workspace=ws["id"])
    assert second["id"] != first["id"] and second["workspace_id"] == ws["id"]
    assert run(api, second["id"], "cat /workspace/hello.txt")["output"] == "hello from the first session\n"
    terminate(api, second["id"])


def test_uploads_and_deletes_persist(sandbox_user: User) -> None:
    api = sandbox_user.api
    ws = create_workspace(api)
    first = create_session(api, workspace=ws["id"])
    payload = bytes(range(256)) * 100
    up = api.post(
        f"/v1/sessions/{first['id']}/upload",
        data={"path": "/workspace/data/blob.bin"},
        files={"file": ("blob", payload)},
    )
    expect(up, 200)
    run(
        api,
        first["id"],
        "echo gone > /workspace/old.txt && rm /workspace/old.txt && mkdir -p /workspace/dir/sub",
    )
    terminate(api, first["id"])
    second = create_session(api, workspace=ws["id"])
    resp = api.get(f"/v1/sessions/{second['id']}/download", params={"path": "/workspace/data/blob.bin"})
    assert resp.status_code == 200 and resp.content == payload
    listing = run(
        api, second["id"], "test -e /workspace/old.txt; echo $?; test -d /workspace/dir/sub; echo $?"
    )
    assert listing["output"] == "1\n0\n"
    assert expect(api.get(f"/v1/workspaces/{ws['id']}"), 200)["size_bytes"] > 0
    terminate(api, second["id"])


def test_ephemeral_sessions_share_nothing(sandbox_user: User) -> None:
    api = sandbox_user.api
    first = create_session(api, ephemeral=True)
    run(api, first["id"], "echo secret > /tmp/left-behind && mkdir -p /workspace && echo x > /workspace/x")
    terminate(api, first["id"])
    second = create_session(api, ephemeral=True)
    assert (
        run(api, second["id"], "test -e /tmp/left-behind || test -e /workspace/x; echo $?")["output"] == "1\n"
    )
    terminate(api, second["id"])


def test_two_workspaces_do_not_see_each_other(sandbox_user: User) -> None:
    api = sandbox_user.api
    one, two = create_workspace(api), create_workspace(api)
    s1 = create_session(api, workspace=one["id"])
    s2 = create_session(api, workspace=two["id"])
    run(api, s1["id"], "echo one > /workspace/mine.txt")
    assert run(api, s2["id"], "test -e /workspace/mine.txt; echo $?")["output"] == "1\n"
    expect(api.post("/v1/sessions/bulk-terminate", json={"all": True}), 200)
