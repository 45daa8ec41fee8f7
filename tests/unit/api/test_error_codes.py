"""The one code→status table: every domain error code has a status, and it is the right one."""

from __future__ import annotations

import pytest

from chaser.api.errors import STATUS_BY_CODE, status_for
from chaser.domain import errors as e

EXPECTED = {
    "invalid_request": 400,
    "invalid_field": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "insufficient_scope": 403,
    "session_not_found": 404,
    "workspace_not_found": 404,
    "key_not_found": 404,
    "user_not_found": 404,
    "file_not_found": 404,
    "command_not_found": 404,
    "pty_not_found": 404,
    "name_taken": 409,
    "workspace_busy": 409,
    "session_not_ready": 409,
    "session_not_open": 409,
    "active_connections": 409,
    "already_member": 409,
    "last_owner": 409,
    "too_large": 413,
    "concurrency_limit": 429,
    "internal": 500,
    "host_error": 502,
    "port_unreachable": 502,
    "host_unavailable": 503,
}


@pytest.mark.parametrize(("code", "status"), sorted(EXPECTED.items()))
def test_code_maps_to_status(code: str, status: int) -> None:
    assert status_for(code) == status


@pytest.mark.parametrize("cls", e.all_error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_has_a_non_500_status_unless_internal(cls: type[e.ChaserError]) -> None:
    status = status_for(cls.code)
    assert (status == 500) == (cls.code == "internal"), cls
    if issubclass(cls, e.NotFound):
        assert status == 404
    if issubclass(cls, e.Conflict):
        assert status == 409


def test_codes_are_unique_per_class() -> None:
    codes = [cls.code for cls in e.all_error_classes()]
    assert len(codes) == len(set(codes))


def test_table_statuses_are_http_errors() -> None:
    assert all(400 <= s < 600 for s in STATUS_BY_CODE.values())
