"""The account's default workspace per session type, and `POST /v1/exec` without a workspace."""

from __future__ import annotations

from tests.factories import User, create_workspace, expect, expect_error, new_name, terminate


def test_exec_without_workspace_uses_the_default_or_says_how_to_set_one(owner: User) -> None:
    api = owner.api
    message = expect_error(api.post("/v1/exec", json={"command": "true"}), 400, "invalid_request")
    assert "PUT /v1/workspaces/default" in message and "ephemeral" in message
    assert expect(api.get("/v1/sessions"), 200)["count"] == 0

    ws = create_workspace(api, name=new_name("dflt"))
    out = expect(
        api.put("/v1/workspaces/default", json={"workspace": ws["name"], "session_type": "sandbox"}), 200
    )
    assert out["session_type"] == "sandbox" and out["workspace"]["id"] == ws["id"]
    assert out["workspace"]["default"] is True
    assert expect(api.get(f"/v1/workspaces/{ws['id']}"), 200)["default"] is True

    done = expect(api.post("/v1/exec", json={"command": "echo hi > /workspace/marker; echo ok"}), 200)
    assert done["workspace_id"] == ws["id"] and done["ephemeral"] is False
    assert done["output"].strip() == "ok"
    again = expect(api.post("/v1/exec", json={"command": "cat /workspace/marker"}), 200)
    assert again["session_id"] == done["session_id"] and again["output"].strip() == "hi"
    terminate(api, done["session_id"])

    # the default moves; clearing it brings the 400 back
    other = create_workspace(api)
    expect(api.put("/v1/workspaces/default", json={"workspace": other["id"]}), 200)
    assert expect(api.get(f"/v1/workspaces/{ws['id']}"), 200)["default"] is False
    cleared = expect(
        api.put("/v1/workspaces/default", json={"workspace": None, "session_type": "sandbox"}), 200
    )
    assert cleared["workspace"] is None
    expect_error(api.post("/v1/exec", json={"command": "true"}), 400, "invalid_request")


def test_default_rules(owner: User) -> None:
    api = owner.api
    ws = create_workspace(api)
    expect_error(
        api.put("/v1/workspaces/default", json={"workspace": ws["id"], "session_type": "browser"}),
        400,
        "invalid_field",
    )
    expect_error(
        api.put("/v1/workspaces/default", json={"workspace": "missing-ws"}), 404, "workspace_not_found"
    )
    expect_error(
        api.put("/v1/workspaces/default", json={"workspace": ws["id"], "session_type": "vm"}),
        400,
        "invalid_field",
    )
    for reserved in ("default", "Import"):
        expect_error(api.post("/v1/workspaces", json={"name": reserved}), 400, "invalid_field")
    # deleting the default workspace clears the default
    expect(api.put("/v1/workspaces/default", json={"workspace": ws["id"]}), 200)
    expect(api.delete(f"/v1/workspaces/{ws['id']}"), 200)
    expect_error(api.post("/v1/exec", json={"command": "true"}), 400, "invalid_request")
