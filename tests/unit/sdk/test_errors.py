"""Error code → exception mapping, through the real transport code over `httpx.MockTransport`
(pure mapping logic only; behaviour against a real server lives in tests/e2e)."""

from __future__ import annotations

import json

import httpx
import pytest

from chaser.domain import errors as domain
from chaser.sdk import (
    AsyncClient,
    ChaserError,
    Client,
    Conflict,
    ConnectionFailed,
    Forbidden,
    HostUnavailable,
    InsufficientScope,
    InvalidRequest,
    NotFound,
    PortUnreachable,
    RateLimited,
    ServerError,
    TooLarge,
    Unauthorized,
)
from chaser.sdk._errors import error_for, error_for_close

CASES = [
    (400, "invalid_request", InvalidRequest),
    (400, "invalid_field", InvalidRequest),
    (401, "unauthorized", Unauthorized),
    (403, "forbidden", Forbidden),
    (403, "insufficient_scope", InsufficientScope),
    (404, "session_not_found", NotFound),
    (404, "workspace_not_found", NotFound),
    (404, "not_found", NotFound),
    (409, "session_not_open", Conflict),
    (409, "active_connections", Conflict),
    (409, "name_taken", Conflict),
    (413, "too_large", TooLarge),
    (429, "rate_limited", RateLimited),
    (429, "concurrency_limit", RateLimited),
    (500, "internal", ServerError),
    (502, "host_error", ServerError),
    (502, "port_unreachable", PortUnreachable),
    (503, "host_unavailable", HostUnavailable),
]


def _answering(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body).encode(), headers=headers or {})

    return httpx.MockTransport(handler)


def _body(code: str, message: str = "the message names the fix") -> dict[str, object]:
    return {"error": {"code": code, "message": message, "request_id": "req-1"}}


@pytest.mark.parametrize(("status", "code", "cls"), CASES, ids=[c[1] for c in CASES])
def test_sync_client_raises_the_class_of_the_code(status: int, code: str, cls: type[ChaserError]) -> None:
    with (
        Client("http://chaser.test", "sk_x", transport=_answering(status, _body(code))) as chaser,
        pytest.raises(cls) as caught,
    ):
        chaser.sessions.get("some-id")
    assert caught.value.code == code
    assert caught.value.status == status
    assert caught.value.message == "the message names the fix"
    assert str(caught.value) == "the message names the fix"
    assert caught.value.request_id == "req-1"


async def _async_case(status: int, code: str, cls: type[ChaserError]) -> None:
    async with AsyncClient("http://chaser.test", "sk_x", transport=_answering(status, _body(code))) as chaser:
        with pytest.raises(cls):
            await chaser.sessions.list()


def test_async_client_raises_the_same_classes() -> None:
    import asyncio

    for status, code, cls in CASES:
        asyncio.run(_async_case(status, code, cls))


def test_code_wins_over_status() -> None:
    exc = error_for(400, _body("session_not_found"))
    assert isinstance(exc, NotFound)


def test_unknown_code_falls_back_to_the_status() -> None:
    assert isinstance(error_for(409, _body("some_new_conflict")), Conflict)
    assert isinstance(error_for(404, _body("gizmo_not_found")), NotFound)
    assert isinstance(error_for(418, _body("teapot")), ChaserError)


def test_body_without_error_envelope_still_maps() -> None:
    exc = error_for(503, "<html>bad gateway</html>")
    assert isinstance(exc, HostUnavailable)
    assert "503" in exc.message


def test_retry_after_is_read() -> None:
    exc = error_for(429, _body("rate_limited"), {"retry-after": "3"})
    assert isinstance(exc, RateLimited)
    assert exc.retry_after == 3.0


@pytest.mark.parametrize("cls", domain.all_error_classes(), ids=lambda c: c.__name__)
def test_every_server_code_maps_to_the_matching_sdk_kind(cls: type[domain.ChaserError]) -> None:
    """Both trees stay in step: a domain NotFound/Conflict/... is raised as the SDK's."""
    from chaser.api.errors import status_for

    exc = error_for(status_for(cls.code), _body(cls.code))
    assert exc.code == cls.code
    if issubclass(cls, domain.NotFound):
        assert isinstance(exc, NotFound)
    elif issubclass(cls, domain.Conflict):
        assert isinstance(exc, Conflict)
    elif cls.code == "insufficient_scope":
        assert isinstance(exc, InsufficientScope)
    elif cls.code == "internal":
        assert isinstance(exc, ServerError)
    else:
        assert type(exc) is not ChaserError, cls.code


@pytest.mark.parametrize(
    ("close_code", "cls"),
    [
        (4401, Unauthorized),
        (4403, InsufficientScope),
        (4404, NotFound),
        (4409, Conflict),
        (4502, PortUnreachable),
    ],
)
def test_websocket_close_codes(close_code: int, cls: type[ChaserError]) -> None:
    exc = error_for_close(close_code, "the reason")
    assert isinstance(exc, cls)
    assert exc.message == "the reason"


def test_unreachable_server_is_connection_failed() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        Client("http://chaser.test", "sk_x", transport=httpx.MockTransport(refuse)) as chaser,
        pytest.raises(ConnectionFailed) as caught,
    ):
        chaser.sessions.list()
    assert "chaser server" in caught.value.message


def test_requests_carry_key_and_account() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [], "count": 0, "limit": 50, "offset": 0})

    with Client("http://chaser.test/", "sk_abc", "my-org", transport=httpx.MockTransport(handler)) as chaser:
        chaser.sessions.list(status="running")
    assert seen[0].headers["authorization"] == "Bearer sk_abc"
    assert seen[0].headers["x-chaser-account"] == "my-org"
    assert seen[0].url == "http://chaser.test/v1/sessions?status=running"
