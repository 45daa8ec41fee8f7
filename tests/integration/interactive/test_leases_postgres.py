"""The lease store on PostgreSQL: the same checks as `tests/unit/store/test_leases.py` (live
count on the session row, release on cancellation, forced close, both reapers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.store import test_leases as t

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(
    "check",
    [
        t.test_hold_counts_and_releases,
        t.test_released_when_the_holder_is_cancelled,
        t.test_close_session_cancels_the_stream,
        t.test_reapers,
    ],
    ids=lambda f: f.__name__,
)
def test_on_postgres(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, check: Callable[[Path], None]
) -> None:
    original = t._setup

    async def setup(path: Path, url: str | None = None) -> Any:
        return await original(path, pg_url)

    monkeypatch.setattr(t, "_setup", setup)
    check(tmp_path)
