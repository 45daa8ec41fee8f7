"""Suite-wide hooks. When an integration test fails, its server's log tail is attached to the
report: a product bug is then visible with the server-side traceback next to the failing request."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        log_tail = getattr(value, "log_tail", None)
        if callable(log_tail):
            report.sections.append((f"chaser server log ({name})", log_tail(40)))
