"""User API keys: `POST /v1/keys`, `GET /v1/keys`, `DELETE /v1/keys/{id}` (decisions.md, Auth)."""

from __future__ import annotations

import re

import pytest

from tests.factories import User, create_key, expect, expect_error

KEY_RE = re.compile(r"^sk_[A-Za-z0-9_-]{43}$")


def test_create_shows_the_full_secret_once(user: User) -> None:
    key = create_key(user.api, ["sessions.read", "files.read"], name="ci")
    assert KEY_RE.match(key["key"]), key
    assert key["key_prefix"] == key["key"][:11]
    assert key["name"] == "ci"
    assert sorted(key["scopes"]) == ["files.read", "sessions.read"]
    assert key["full_access"] is False
    listed = expect(user.api.get("/v1/keys"), 200)
    mine = [k for k in listed["data"] if k["id"] == key["id"]]
    assert len(mine) == 1
    assert mine[0]["key_prefix"] == key["key_prefix"]
    assert key["key"] not in str(listed), "the full secret is shown only at creation"
    assert "key" not in mine[0] or mine[0]["key"] is None


@pytest.mark.parametrize("scopes", [None, []])
def test_no_scopes_means_full_access(user: User, scopes: list[str] | None) -> None:
    key = create_key(user.api, scopes)
    assert key["full_access"] is True
    assert key["scopes"] == []


def test_list_is_paginated(user: User) -> None:
    for _ in range(3):
        create_key(user.api)
    page = expect(user.api.get("/v1/keys", params={"limit": 2, "offset": 0}), 200)
    assert page["limit"] == 2 and page["offset"] == 0
    assert page["count"] >= 4  # three new keys plus the one create-user made
    assert len(page["data"]) == 2
    rest = expect(user.api.get("/v1/keys", params={"limit": 200, "offset": 2}), 200)
    assert len(rest["data"]) == page["count"] - 2
    assert not {k["id"] for k in page["data"]} & {k["id"] for k in rest["data"]}


def test_revoke_makes_the_key_401(user: User) -> None:
    key = create_key(user.api)
    body = expect(user.api.delete(f"/v1/keys/{key['id']}"), 200)
    assert body == {"deleted": True, "id": key["id"]}
    expect_error(user.api.with_key(key["key"]).get("/v1/keys"), 401, "unauthorized")
    assert key["id"] not in {k["id"] for k in expect(user.api.get("/v1/keys"), 200)["data"]}


def test_revoke_unknown_key_is_404(user: User) -> None:
    expect_error(user.api.delete("/v1/keys/00000000-0000-4000-8000-000000000000"), 404, "key_not_found")


def test_unknown_scope_is_400(user: User) -> None:
    resp = user.api.post("/v1/keys", json={"name": "x", "scopes": ["sessions.read", "root.everything"]})
    message = expect_error(resp, 400, "invalid_field")
    assert "root.everything" in message


def test_scopes_of_wrong_type_is_400(user: User) -> None:
    expect_error(
        user.api.post("/v1/keys", json={"name": "x", "scopes": "sessions.read"}), 400, "invalid_field"
    )


def test_another_users_key_is_404(user: User, other_user: User) -> None:
    key = create_key(other_user.api)
    expect_error(user.api.delete(f"/v1/keys/{key['id']}"), 404, "key_not_found")
    assert expect(other_user.api.with_key(key["key"]).get("/v1/keys"), 200)["count"] >= 2
