"""The one table from wire code to HTTP status, and the handlers that write every error body:
`{"error": {"code", "message", "request_id"}}`. Routes never build error bodies themselves."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chaser.domain import errors as e

log = logging.getLogger("chaser.api")

STATUS_BY_CODE: dict[str, int] = {
    "invalid_request": 400,
    "invalid_field": 400,
    "unauthorized": 401,
    "payment_required": 402,
    "forbidden": 403,
    "insufficient_scope": 403,
    "quota_exceeded": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "too_large": 413,
    "rate_limited": 429,
    "concurrency_limit": 429,
    "internal": 500,
    "host_error": 502,
    "port_unreachable": 502,
    "host_unavailable": 503,
}


def status_for(code: str) -> int:
    """Every `<thing>_not_found` is a 404; the remaining conflicts are 409; the rest is in the table."""
    if code in STATUS_BY_CODE:
        return STATUS_BY_CODE[code]
    if code.endswith("_not_found"):
        return 404
    return 500


def _conflict_codes() -> set[str]:
    return {cls.code for cls in e.all_error_classes() if issubclass(cls, e.Conflict)}


for _code in _conflict_codes():
    STATUS_BY_CODE.setdefault(_code, 409)


def error_response(request: Request, code: str, message: str, status: int | None = None) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    body: dict[str, Any] = {"error": {"code": code, "message": message, "request_id": request_id}}
    headers = (
        {"Retry-After": "1"} if code in ("host_unavailable", "concurrency_limit", "rate_limited") else None
    )
    return JSONResponse(body, status_code=status or status_for(code), headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str]:
    """(code, message) for FastAPI's validation errors; a body that isn't JSON is `invalid_request`."""
    errs = exc.errors()
    for err in errs:
        if err.get("type") == "json_invalid":
            return "invalid_request", "the request body is not valid JSON"
    parts = []
    for err in errs[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{loc}: {err.get('msg', 'invalid value')}")
    return "invalid_field", "; ".join(parts) or "invalid field"


def install(app: FastAPI) -> None:
    async def chaser_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, e.ChaserError)
        return error_response(request, exc.code, exc.message)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        content_type = request.headers.get("content-type", "")
        body_not_read_as_json = any(tuple(err.get("loc", ())) == ("body",) for err in exc.errors())
        sent_as_something_else = bool(content_type) and not any(
            kind in content_type for kind in ("json", "multipart")
        )
        if body_not_read_as_json and sent_as_something_else:
            # e.g. `curl -d '{...}'`, which sends application/x-www-form-urlencoded
            return error_response(
                request,
                "invalid_request",
                f"the body must be JSON sent with `Content-Type: application/json` (got {content_type!r})",
            )
        code, message = _validation_message(exc)
        return error_response(request, code, message)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return error_response(request, "not_found", f"no route {request.method} {request.url.path}")
        if exc.status_code == 405:
            return error_response(
                request, "method_not_allowed", f"method {request.method} is not allowed here"
            )
        if exc.status_code == 400:
            return error_response(request, "invalid_request", str(exc.detail))
        if exc.status_code == 413:
            return error_response(request, "too_large", str(exc.detail))
        return error_response(
            request,
            "internal" if exc.status_code >= 500 else "invalid_request",
            str(exc.detail),
            status=exc.status_code,
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(request, "internal", "internal error; the server log has the details")

    app.add_exception_handler(e.ChaserError, chaser_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
