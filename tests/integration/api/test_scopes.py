"""The scope matrix (decisions.md, Auth): a key holding one scope can use exactly that scope's
routes and gets 403 `insufficient_scope` everywhere else; account management needs full access.

Routes on a session use an id that does not exist: the scope check comes first, so the right scope
answers 404 `session_not_found` (auth passed) and any other scope 403. No sandbox is needed."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.factories import Api, User, create_key, new_name

NOWHERE = "00000000-0000-4000-8000-000000000000"


def _routes() -> list[tuple[str, str, dict[str, Any], str, int]]:
    """(method, path, request kwargs, required scope, status the right scope gets)."""
    sid = NOWHERE
    return [
        ("GET", "/v1/sessions", {}, "sessions.read", 200),
        ("GET", f"/v1/sessions/{sid}", {}, "sessions.read", 404),
        # A body that breaks a create rule: the right scope reaches validation (400), no sandbox starts.
        ("POST", "/v1/sessions", {"json": {"ephemeral": True, "workspace": "x"}}, "sessions.write", 400),
        ("DELETE", f"/v1/sessions/{sid}", {}, "sessions.write", 404),
        ("POST", "/v1/sessions/bulk-terminate", {"json": {"ids": [sid]}}, "sessions.write", 200),
        ("POST", f"/v1/sessions/{sid}/exec", {"json": {"command": "true"}}, "exec.write", 404),
        # An empty command fails validation, so the right scope gets 400 and no sandbox starts.
        ("POST", "/v1/exec", {"json": {"ephemeral": True, "command": ""}}, "exec.write", 400),
        (
            "POST",
            f"/v1/sessions/{sid}/upload",
            {"data": {"path": "/tmp/x"}, "files": {"file": b"x"}},
            "files.write",
            404,
        ),
        ("GET", f"/v1/sessions/{sid}/download", {"params": {"path": "/etc/hostname"}}, "files.read", 404),
        ("GET", "/v1/workspaces", {}, "workspaces.read", 200),
        ("GET", "/v1/workspaces/no-such-ws", {}, "workspaces.read", 404),
        ("POST", "/v1/workspaces", {"json": {"name": new_name("ws")}}, "workspaces.write", 201),
        (
            "PUT",
            "/v1/workspaces/no-such-ws/name",
            {"json": {"name": new_name("ws")}},
            "workspaces.write",
            404,
        ),
        ("PUT", "/v1/workspaces/no-such-ws/template", {"json": {"template": True}}, "workspaces.write", 404),
        ("DELETE", "/v1/workspaces/no-such-ws", {}, "workspaces.write", 404),
        ("GET", "/v1/keys", {}, "keys.read", 200),
        (
            "POST",
            "/v1/keys",
            {"json": {"name": new_name("key"), "scopes": ["keys.write"]}},
            "keys.write",
            201,
        ),
        ("DELETE", f"/v1/keys/{sid}", {}, "keys.write", 404),
    ]


SCOPES = sorted({route[3] for route in _routes()})
# Account/org/member management is outside the scope list: any scoped key gets 403.
FULL_ACCESS_ONLY = [
    ("POST", "/v1/accounts/organizations", {"json": {"name": "org-never-created"}}),
    ("POST", "/v1/accounts/current/members", {"json": {"email": "nobody@example.test", "role": "member"}}),
    ("GET", "/v1/accounts/current/service-accounts", {}),
]
ANY_VALID_KEY = [
    ("GET", "/v1/accounts"),
    ("GET", "/v1/accounts/current"),
    ("GET", "/v1/accounts/current/members"),
]


def _call(api: Api, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
    return api.request(method, path, **kwargs)


def _describe(resp: httpx.Response) -> str:
    return f"{resp.request.method} {resp.request.url.path} -> {resp.status_code} {resp.text[:200]}"


@pytest.mark.parametrize("scope", SCOPES)
def test_key_with_one_scope_reaches_only_its_routes(user: User, scope: str) -> None:
    api = user.api.with_key(create_key(user.api, [scope])["key"])
    wrong = []
    for method, path, kwargs, needed, ok_status in _routes():
        resp = _call(api, method, path, kwargs)
        if needed == scope and resp.status_code != ok_status:
            wrong.append(f"allowed, expected {ok_status}: {_describe(resp)}")
        if needed != scope and (
            resp.status_code != 403 or resp.json()["error"]["code"] != "insufficient_scope"
        ):
            wrong.append(f"needs {needed}, expected 403 insufficient_scope: {_describe(resp)}")
    assert wrong == []


@pytest.mark.parametrize("scope", SCOPES)
def test_scoped_key_cannot_manage_accounts(user: User, scope: str) -> None:
    api = user.api.with_key(create_key(user.api, [scope])["key"])
    for method, path, kwargs in FULL_ACCESS_ONLY:
        resp = _call(api, method, path, kwargs)
        assert resp.status_code == 403, _describe(resp)
        assert resp.json()["error"]["code"] in {"insufficient_scope", "forbidden"}, _describe(resp)
    for method, path in ANY_VALID_KEY:
        resp = _call(api, method, path, {})
        assert resp.status_code == 200, _describe(resp)


def test_full_access_key_reaches_every_route(user: User) -> None:
    key = create_key(user.api, [])
    assert key["full_access"] is True and key["scopes"] == []
    api = user.api.with_key(key["key"])
    wrong = [
        _describe(resp)
        for method, path, kwargs, _, ok_status in _routes()
        if (resp := _call(api, method, path, kwargs)).status_code != ok_status
    ]
    assert wrong == []


def test_all_scopes_is_not_full_access(user: User) -> None:
    """A key listing every scope still can't manage accounts: that needs an unscoped key."""
    key = create_key(user.api, SCOPES)
    assert key["full_access"] is False
    resp = user.api.with_key(key["key"]).post(
        "/v1/accounts/organizations", json={"name": f"org-{uuid.uuid4().hex[:8]}"}
    )
    assert resp.status_code == 403, _describe(resp)
