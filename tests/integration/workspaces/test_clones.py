"""Clones and templates: a clone copies files and metadata, is independent of its source, and
is refused while the source has a live session."""

from __future__ import annotations

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


def test_clone_copies_files_and_metadata_then_lives_its_own_life(owner: User) -> None:
    api = owner.api
    src = create_workspace(api, name=new_name("tpl"), template=True)
    assert src["template"] is True
    s = create_session(api, workspace=src["id"])
    run(
        api,
        s["id"],
        "mkdir -p /workspace/app && echo original > /workspace/app/file && chown -R 1000:1000 /workspace/app",
    )
    terminate(api, s["id"])

    clone = expect(
        api.post("/v1/workspaces", json={"clone_from": src["name"], "name": new_name("copy")}), 201
    )
    assert clone["source_workspace_id"] == src["id"]
    assert clone["session_type"] == src["session_type"] and clone["image"] == src["image"]
    assert clone["template"] is False and clone["id"] != src["id"]
    assert clone["size_bytes"] > 0

    c = create_session(api, workspace=clone["id"])
    assert run(api, c["id"], "cat /workspace/app/file")["output"].strip() == "original"
    assert run(api, c["id"], "stat -c %u /workspace/app/file")["output"].strip() == "1000", "owners kept"
    run(api, c["id"], "echo clone-change > /workspace/app/file && touch /workspace/only-in-clone && sync")
    terminate(api, c["id"])

    s = create_session(api, workspace=src["id"])
    assert run(api, s["id"], "cat /workspace/app/file")["output"].strip() == "original"
    assert run(api, s["id"], "test -e /workspace/only-in-clone; echo $?")["output"].strip() == "1"
    run(api, s["id"], "echo source-change > /workspace/app/file && sync")
    terminate(api, s["id"])

    c = create_session(api, workspace=clone["id"])
    assert run(api, c["id"], "cat /workspace/app/file")["output"].strip() == "clone-change"
    terminate(api, c["id"])

    # the source can go; the clone stays whole
    expect(api.delete(f"/v1/workspaces/{src['id']}"), 200)
    c = create_session(api, workspace=clone["id"])
    assert run(api, c["id"], "cat /workspace/app/file")["output"].strip() == "clone-change"
    terminate(api, c["id"])


def test_clone_is_refused_while_the_source_has_a_live_session(owner: User) -> None:
    api = owner.api
    src = create_workspace(api)
    s = create_session(api, workspace=src["id"])
    before = expect(api.get("/v1/workspaces"), 200)["count"]
    name = new_name("blocked")
    expect_error(
        api.post("/v1/workspaces", json={"clone_from": src["id"], "name": name}), 409, "workspace_busy"
    )
    assert expect(api.get("/v1/workspaces"), 200)["count"] == before, "nothing half-made"
    expect_error(api.get(f"/v1/workspaces/{name}"), 404, "workspace_not_found")
    terminate(api, s["id"])
    expect(api.post("/v1/workspaces", json={"clone_from": src["id"], "name": name}), 201)


def test_clone_rules(owner: User) -> None:
    api = owner.api
    src = create_workspace(api)
    expect_error(api.post("/v1/workspaces", json={"clone_from": "no-such-ws"}), 404, "workspace_not_found")
    expect_error(
        api.post("/v1/workspaces", json={"clone_from": src["id"], "session_type": "browser"}),
        400,
        "invalid_field",
    )
    expect_error(
        api.post("/v1/workspaces", json={"clone_from": src["id"], "name": src["name"]}), 409, "name_taken"
    )


def test_template_flag(owner: User) -> None:
    api = owner.api
    ws = create_workspace(api)
    assert (
        expect(api.put(f"/v1/workspaces/{ws['id']}/template", json={"template": True}), 200)["template"]
        is True
    )
    assert expect(api.get(f"/v1/workspaces/{ws['id']}"), 200)["template"] is True
    assert (
        expect(api.put(f"/v1/workspaces/{ws['id']}/template", json={"template": False}), 200)["template"]
        is False
    )
