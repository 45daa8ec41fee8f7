"""Small helpers for the integration suite: users, an HTTP caller bound to a key, and creators
that assert the happy path so tests read as the rule they check."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Protocol

import httpx

HTTP_TIMEOUT_S = 180


class UserSource(Protocol):
    url: str

    def create_user(self, email: str) -> dict[str, str]: ...

    def create_key(self, email: str, account: str) -> dict[str, str]: ...


@dataclasses.dataclass(frozen=True)
class Api:
    """Calls the server as one key, optionally naming the active account (`X-Chaser-Account`)."""

    base_url: str
    key: str | None
    account: str | None = None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.key is not None:
            headers["Authorization"] = f"Bearer {self.key}"
        if self.account is not None:
            headers["X-Chaser-Account"] = self.account
        return httpx.request(method, self.base_url + path, headers=headers, timeout=HTTP_TIMEOUT_S, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def with_key(self, key: str | None) -> Api:
        return dataclasses.replace(self, key=key)

    def in_account(self, account: str | None) -> Api:
        return dataclasses.replace(self, account=account)


@dataclasses.dataclass(frozen=True)
class User:
    email: str
    user_id: str
    account_id: str
    key: str
    api: Api


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.test"


def new_name(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_user(server: UserSource, email: str | None = None) -> User:
    """A fresh user via `chaser admin create-user`; its key is full-access on its personal account."""
    email = email or new_email()
    made = server.create_user(email)
    return User(email, made["user_id"], made["account_id"], made["key"], Api(server.url, made["key"]))


def expect(resp: httpx.Response, status: int) -> Any:
    """Asserts the status (showing the body when it differs) and returns the JSON body."""
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text}"
    )
    return resp.json()


def expect_error(resp: httpx.Response, status: int, code: str) -> str:
    """Asserts the decisions.md error body `{"error": {"code", "message", "request_id"}}`; returns message."""
    body = expect(resp, status)
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert body["error"].get("request_id"), body
    return body["error"]["message"]


def create_key(api: Api, scopes: list[str] | None = None, name: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name or new_name("key")}
    if scopes is not None:
        body["scopes"] = scopes
    return expect(api.post("/v1/keys", json=body), 201)


def create_workspace(api: Api, **body: Any) -> dict[str, Any]:
    return expect(api.post("/v1/workspaces", json=body), 201)


def create_session(api: Api, **body: Any) -> dict[str, Any]:
    session = expect(api.post("/v1/sessions", json=body), 201)
    assert session["status"] == "running", session
    return session


def run(api: Api, session_id: str, command: str, **body: Any) -> dict[str, Any]:
    """Execs `command` and returns the result (asserting 200, not its exit code)."""
    return expect(api.post(f"/v1/sessions/{session_id}/exec", json={"command": command, **body}), 200)


def upload(api: Api, session_id: str, path: str, content: bytes) -> httpx.Response:
    """`POST /v1/sessions/{id}/upload` of `content` to `path` (the response, unchecked)."""
    files = {"file": ("blob", content)}
    return api.post(f"/v1/sessions/{session_id}/upload", data={"path": path}, files=files)


def download(api: Api, session_id: str, path: str) -> httpx.Response:
    """`GET /v1/sessions/{id}/download` of `path` (the response, unchecked)."""
    return api.get(f"/v1/sessions/{session_id}/download", params={"path": path})


def terminate(api: Api, session_id: str) -> dict[str, Any]:
    return expect(api.delete(f"/v1/sessions/{session_id}"), 200)


def create_org(api: Api, name: str | None = None) -> dict[str, Any]:
    """Returns `{"account": ..., "key": ...}`; the key is full-access and bound to the new org."""
    return expect(api.post("/v1/accounts/organizations", json={"name": name or new_name("org")}), 201)
