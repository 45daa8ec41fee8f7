"""The SDK's exception tree, raised from the contract's wire `error.code` (never from the status
alone when a code is present):

    ChaserError                      base; `.code`, `.message`, `.status`, `.request_id`
    ├── InvalidRequest               invalid_request, invalid_field (400)
    ├── Unauthorized                 unauthorized (401)
    ├── PaymentRequired              payment_required (402)
    ├── Forbidden                    forbidden (403)
    │   └── InsufficientScope        insufficient_scope (403)
    ├── NotFound                     not_found and every `<thing>_not_found` (404)
    ├── Conflict                     409 codes: session_not_ready, session_not_open, active_connections,
    │                                workspace_busy, name_taken, ...
    ├── TooLarge                     too_large (413)
    ├── RateLimited                  rate_limited, concurrency_limit (429); `.retry_after`
    ├── ServerError                  internal, host_error and other 5xx
    │   └── HostUnavailable          host_unavailable (503)
    ├── PortUnreachable              port_unreachable (502, or WebSocket close 4502): nothing listens
    ├── ConnectionFailed             the server could not be reached at all
    └── StreamClosed                 a WebSocket (PTY, tunnel) was refused or closed with an error
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

__all__ = [
    "ChaserError",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "HostUnavailable",
    "InsufficientScope",
    "InvalidRequest",
    "NotFound",
    "PaymentRequired",
    "PortUnreachable",
    "RateLimited",
    "ServerError",
    "StreamClosed",
    "TooLarge",
    "Unauthorized",
    "error_for",
    "error_for_close",
]


class ChaserError(Exception):
    """Base of every error the SDK raises; `message` is the server's text (it names the fix)."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "internal",
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message


class InvalidRequest(ChaserError):
    """The request broke a rule (400 `invalid_request` / `invalid_field`)."""


class Unauthorized(ChaserError):
    """Missing, unknown or revoked API key (401)."""


class PaymentRequired(ChaserError):
    """The account's plan or balance does not allow this (402)."""


class Forbidden(ChaserError):
    """The key may not act in this account (403 `forbidden`)."""


class InsufficientScope(Forbidden):
    """The key lacks the scope this route needs (403 `insufficient_scope`)."""


class NotFound(ChaserError):
    """No such resource in this account (404 `<thing>_not_found`)."""


class Conflict(ChaserError):
    """The resource's state forbids this now (409)."""


class TooLarge(ChaserError):
    """Body or file above the limit (413)."""


class RateLimited(ChaserError):
    """Too many requests or sessions (429); `retry_after` is in seconds when the server said."""

    retry_after: float | None = None


class ServerError(ChaserError):
    """The server failed (5xx)."""


class HostUnavailable(ServerError):
    """The host daemon is not reachable (503 `host_unavailable`)."""


class PortUnreachable(ChaserError):
    """Nothing listens on that port inside the sandbox (`port_unreachable`)."""


class ConnectionFailed(ChaserError):
    """The API server could not be reached (connection refused, DNS, timeout)."""


class StreamClosed(ChaserError):
    """A WebSocket was refused or closed with an error code (4401, 4404, 4409, 4502 ...)."""


_BY_CODE: dict[str, type[ChaserError]] = {
    "invalid_request": InvalidRequest,
    "invalid_field": InvalidRequest,
    "unauthorized": Unauthorized,
    "payment_required": PaymentRequired,
    "forbidden": Forbidden,
    "insufficient_scope": InsufficientScope,
    "not_found": NotFound,
    "method_not_allowed": InvalidRequest,
    "too_large": TooLarge,
    "rate_limited": RateLimited,
    "concurrency_limit": RateLimited,
    "host_unavailable": HostUnavailable,
    "host_error": ServerError,
    "port_unreachable": PortUnreachable,
    "port_refused": PortUnreachable,
    "internal": ServerError,
}

_BY_STATUS: dict[int, type[ChaserError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    402: PaymentRequired,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    429: RateLimited,
    503: HostUnavailable,
}


def _class_for(code: str | None, status: int | None) -> type[ChaserError]:
    if code:
        if code in _BY_CODE:
            return _BY_CODE[code]
        if code.endswith("_not_found"):
            return NotFound
    if status is not None:
        if status in _BY_STATUS:
            return _BY_STATUS[status]
        if status >= 500:
            return ServerError
    return ChaserError


def error_for(status: int, body: Any, headers: dict[str, str] | None = None) -> ChaserError:
    """The exception for an error response: the class follows `error.code` (then the status)."""
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = err.get("code") if isinstance(err.get("code"), str) else None
        message = err.get("message") if isinstance(err.get("message"), str) else None
        request_id = err.get("request_id") if isinstance(err.get("request_id"), str) else None
    cls = _class_for(code, status)
    exc = cls(
        message or f"the server answered HTTP {status}",
        code=code or _default_code(cls),
        status=status,
        request_id=request_id,
    )
    if isinstance(exc, RateLimited) and headers:
        retry = headers.get("retry-after") or headers.get("Retry-After")
        if retry:
            with contextlib.suppress(ValueError):
                exc.retry_after = float(retry)
    return exc


_CLOSE_CODE = {
    4400: "invalid_request",
    4401: "unauthorized",
    4403: "insufficient_scope",
    4404: "not_found",
    4409: "session_not_open",
    4502: "port_unreachable",
    4503: "host_unavailable",
}
_REASON_CODE = re.compile(r"^([a-z][a-z0-9_]*): (.*)$", re.DOTALL)


def error_for_close(close_code: int | None, reason: str) -> ChaserError:
    """The exception for a WebSocket closed with an application code: `4000 + HTTP status` (decisions.md),
    the reason being the message, or `"<code>: <message>"` when a host relay passed it on."""
    code = _CLOSE_CODE.get(close_code or 0)
    message = reason
    if match := _REASON_CODE.match(reason or ""):
        code, message = match.group(1), match.group(2)
    status = close_code - 4000 if close_code is not None and 4100 <= close_code < 4600 else None
    cls: type[ChaserError] = _class_for(code, status) if status is not None else StreamClosed
    if close_code == 4409 and code not in _BY_CODE:
        cls = Conflict
    if cls is ChaserError:
        cls = StreamClosed
    return cls(
        message or f"the connection was closed (code {close_code})",
        code=code or "stream_closed",
        status=status,
    )


def _default_code(cls: type[ChaserError]) -> str:
    for code, klass in _BY_CODE.items():
        if klass is cls:
            return code
    return {NotFound: "not_found", Conflict: "conflict"}.get(cls, "internal")
