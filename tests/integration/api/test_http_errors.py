"""Bad input anywhere gets the error body of decisions.md, never a 500 or a traceback."""

from __future__ import annotations

import pytest

from tests.factories import User, expect, expect_error

NOWHERE = "00000000-0000-4000-8000-000000000000"
JSON_ROUTES = [
    ("POST", "/v1/sessions"),
    ("POST", "/v1/sessions/bulk-terminate"),
    ("POST", f"/v1/sessions/{NOWHERE}/exec"),
    ("POST", "/v1/workspaces"),
    ("PUT", "/v1/workspaces/some-ws/name"),
    ("PUT", "/v1/workspaces/some-ws/template"),
    ("POST", "/v1/keys"),
    ("POST", "/v1/accounts/organizations"),
    ("POST", "/v1/accounts/current/members"),
]
GARBAGE = [b"{", b"not json", b'{"a": 1,}', b"\xff\xfe\x00", b'{"name": "x"']


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_malformed_json_is_400_everywhere(user: User, method: str, path: str) -> None:
    for raw in GARBAGE:
        resp = user.api.request(method, path, content=raw, headers={"Content-Type": "application/json"})
        expect_error(resp, 400, "invalid_request")


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_json_sent_as_a_form_names_the_content_type(user: User, method: str, path: str) -> None:
    # What `curl -d '{...}'` sends without -H 'Content-Type: application/json'.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    resp = user.api.request(method, path, content=b'{"ephemeral": true}', headers=form)
    message = expect_error(resp, 400, "invalid_request")
    assert "Content-Type: application/json" in message


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_oversize_json_is_413_everywhere(user: User, method: str, path: str) -> None:
    raw = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
    resp = user.api.request(method, path, content=raw, headers={"Content-Type": "application/json"})
    expect_error(resp, 413, "too_large")


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_wrong_shape_json_never_500(user: User, method: str, path: str) -> None:
    for body in ([], [1, 2], "text", 3.5, {"name": ["x"], "ids": "x", "role": 7, "command": {}}):
        resp = user.api.request(method, path, json=body)
        assert 400 <= resp.status_code < 500, f"{method} {path} {body!r} -> {resp.status_code} {resp.text}"
        assert set(resp.json()) == {"error"}, resp.text
        assert "Traceback" not in resp.text


def test_unknown_route_is_404_not_found(user: User) -> None:
    expect_error(user.api.get("/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_405(user: User) -> None:
    expect_error(user.api.request("PATCH", "/v1/sessions"), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/v1/sessions", "/v1/workspaces", "/v1/keys"])
@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "ten"}])
def test_bad_pagination_is_invalid_field(user: User, path: str, params: dict[str, object]) -> None:
    expect_error(user.api.get(path, params=params), 400, "invalid_field")


@pytest.mark.parametrize("path", ["/v1/sessions", "/v1/workspaces", "/v1/keys"])
def test_list_envelope_and_defaults(user: User, path: str) -> None:
    body = expect(user.api.get(path), 200)
    assert set(body) >= {"data", "count", "limit", "offset"}
    assert body["limit"] == 50 and body["offset"] == 0
    assert body["count"] == len(body["data"])


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/v1/sessions/not-a-uuid", "session_not_found"),
        ("/v1/sessions/1", "session_not_found"),
        (f"/v1/sessions/{NOWHERE}", "session_not_found"),
        ("/v1/workspaces/no-such-ws", "workspace_not_found"),
        (f"/v1/workspaces/{NOWHERE}", "workspace_not_found"),
    ],
)
def test_unknown_ids_are_404(user: User, path: str, code: str) -> None:
    expect_error(user.api.get(path), 404, code)


def test_chunked_oversize_body_is_413(user: User) -> None:
    """No Content-Length (chunked): the 1 MiB cap must hold while reading, not only up front."""

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"name": "'
        for _ in range(32):
            yield b"x" * 65536
        yield b'"}'

    resp = user.api.post("/v1/workspaces", content=chunks(), headers={"Content-Type": "application/json"})
    expect_error(resp, 413, "too_large")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_json_without_json_content_type_never_500(user: User, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    resp = user.api.post("/v1/workspaces", content=b'{"name": "ct-test"}', headers=headers)
    assert resp.status_code in (201, 400, 415), resp.text
    if resp.status_code != 201:
        assert set(resp.json()) == {"error"}, resp.text


@pytest.mark.parametrize("value", [10**30, -(10**30), 1e308, float("inf")])
def test_huge_numbers_are_invalid_field(user: User, value: float) -> None:
    raw = (
        b'{"ephemeral": true, "timeout_s": '
        + (b"1e999" if value == float("inf") else str(value).encode())
        + b"}"
    )
    resp = user.api.post("/v1/sessions", content=raw, headers={"Content-Type": "application/json"})
    expect_error(resp, 400, "invalid_field")


def test_name_with_trailing_newline_or_non_ascii_is_400(user: User) -> None:
    for name in ("trailing\n", "w\u00f6rk", "tab\tname", "nul\u0000name"):
        expect_error(user.api.post("/v1/workspaces", json={"name": name}), 400, "invalid_field")
        expect_error(user.api.post("/v1/accounts/organizations", json={"name": name}), 400, "invalid_field")
