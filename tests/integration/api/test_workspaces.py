"""Workspace records: create, list, get by name or id, rename, template flag, delete
(decisions.md, Workspaces). No sandbox starts here, so these run on both records backends."""

from __future__ import annotations

import re

import pytest

from tests.factories import User, create_workspace, expect, expect_error, new_name

NOWHERE = "00000000-0000-4000-8000-000000000000"


def test_create_with_auto_name(user: User) -> None:
    ws = create_workspace(user.api)
    assert re.fullmatch(r"ws-[0-9a-f]{8}", ws["name"]), ws
    assert ws["session_type"] == "sandbox"
    assert ws["status"] == "idle"
    assert ws["persistence"] == "persistent"
    assert ws["template"] is False
    assert ws["active_session_id"] is None and ws["last_session_id"] is None
    assert isinstance(ws["size_bytes"], int) and ws["size_bytes"] >= 0
    assert {"id", "image", "github_repo", "source_workspace_id", "created_at"} <= set(ws)


def test_create_with_explicit_name_and_get_by_name_or_id(user: User) -> None:
    name = new_name("My.Work_space")
    ws = create_workspace(user.api, name=name)
    assert ws["name"] == name
    for selector in (ws["id"], name, name.lower(), name.upper()):
        assert expect(user.api.get(f"/v1/workspaces/{selector}"), 200) == ws


def test_name_of_64_characters_is_accepted(user: User) -> None:
    name = ("w" + new_name())[:64].ljust(64, "x")
    assert create_workspace(user.api, name=name)["name"] == name


def test_duplicate_name_is_409_case_insensitively(user: User) -> None:
    name = new_name("Dup")
    create_workspace(user.api, name=name)
    for taken in (name, name.lower(), name.upper()):
        expect_error(user.api.post("/v1/workspaces", json={"name": taken}), 409, "name_taken")


def test_names_are_unique_per_account_only(user: User, other_user: User) -> None:
    name = new_name("shared")
    create_workspace(user.api, name=name)
    assert create_workspace(other_user.api, name=name)["name"] == name


@pytest.mark.parametrize("name", ["", "-dash", ".dot", "has space", "a" * 65, "slash/name", NOWHERE, 42])
def test_bad_name_is_400(user: User, name: object) -> None:
    expect_error(user.api.post("/v1/workspaces", json={"name": name}), 400, "invalid_field")


def test_bad_session_type_is_400(user: User) -> None:
    expect_error(user.api.post("/v1/workspaces", json={"session_type": "vm"}), 400, "invalid_field")


def test_list_with_limit_and_offset(user: User) -> None:
    made = {create_workspace(user.api)["id"] for _ in range(3)}
    page = expect(user.api.get("/v1/workspaces", params={"limit": 2}), 200)
    assert page["count"] == 3 and page["limit"] == 2 and len(page["data"]) == 2
    rest = expect(user.api.get("/v1/workspaces", params={"offset": 2}), 200)
    assert len(rest["data"]) == 1
    assert {w["id"] for w in page["data"] + rest["data"]} == made


def test_rename(user: User) -> None:
    ws = create_workspace(user.api)
    new = new_name("Renamed")
    renamed = expect(user.api.put(f"/v1/workspaces/{ws['name']}/name", json={"name": new}), 200)
    assert renamed["id"] == ws["id"] and renamed["name"] == new
    assert expect(user.api.get(f"/v1/workspaces/{new.lower()}"), 200)["id"] == ws["id"]
    expect_error(user.api.get(f"/v1/workspaces/{ws['name']}"), 404, "workspace_not_found")


def test_rename_to_a_taken_name_is_409(user: User) -> None:
    first, second = create_workspace(user.api), create_workspace(user.api)
    resp = user.api.put(f"/v1/workspaces/{second['id']}/name", json={"name": first["name"].upper()})
    expect_error(resp, 409, "name_taken")


@pytest.mark.parametrize("name", ["", "bad name", "a" * 65, None])
def test_rename_to_a_bad_name_is_400(user: User, name: object) -> None:
    ws = create_workspace(user.api)
    expect_error(user.api.put(f"/v1/workspaces/{ws['id']}/name", json={"name": name}), 400, "invalid_field")


def test_template_flag(user: User) -> None:
    ws = create_workspace(user.api, template=True)
    assert ws["template"] is True
    off = expect(user.api.put(f"/v1/workspaces/{ws['id']}/template", json={"template": False}), 200)
    assert off["template"] is False
    assert expect(user.api.get(f"/v1/workspaces/{ws['name']}"), 200)["template"] is False
    resp = user.api.put(f"/v1/workspaces/{ws['id']}/template", json={"template": "maybe"})
    expect_error(resp, 400, "invalid_field")


def test_delete(user: User) -> None:
    ws = create_workspace(user.api)
    assert expect(user.api.delete(f"/v1/workspaces/{ws['name'].upper()}"), 200) == {
        "deleted": True,
        "id": ws["id"],
    }
    expect_error(user.api.get(f"/v1/workspaces/{ws['id']}"), 404, "workspace_not_found")
    expect_error(user.api.delete(f"/v1/workspaces/{ws['id']}"), 404, "workspace_not_found")
    assert expect(user.api.get("/v1/workspaces"), 200)["count"] == 0


def test_deleted_name_can_be_reused(user: User) -> None:
    ws = create_workspace(user.api)
    expect(user.api.delete(f"/v1/workspaces/{ws['id']}"), 200)
    again = create_workspace(user.api, name=ws["name"])
    assert again["id"] != ws["id"]


def test_other_accounts_workspaces_are_404(user: User, other_user: User) -> None:
    ws = create_workspace(other_user.api)
    for selector in (ws["id"], ws["name"]):
        expect_error(user.api.get(f"/v1/workspaces/{selector}"), 404, "workspace_not_found")
        expect_error(
            user.api.put(f"/v1/workspaces/{selector}/name", json={"name": new_name()}),
            404,
            "workspace_not_found",
        )
        expect_error(
            user.api.put(f"/v1/workspaces/{selector}/template", json={"template": True}),
            404,
            "workspace_not_found",
        )
        expect_error(user.api.delete(f"/v1/workspaces/{selector}"), 404, "workspace_not_found")
        expect_error(user.api.post("/v1/sessions", json={"workspace": selector}), 404, "workspace_not_found")
    assert expect(user.api.get("/v1/workspaces"), 200)["count"] == 0
    assert expect(other_user.api.get(f"/v1/workspaces/{ws['id']}"), 200) == ws
