"""Suite-wide hooks. When an integration test fails, its server's log tail is attached to the
report: a product bug is then visible with the server-side traceback next to the failing request.

With `CHASER_TEST_NO_SKIPS=1` (set by scripts/test.sh, so by `make test` and CI) a skipped test
is reported as failed: the test setup installs every prerequisite, so a skip means a hole in it,
never a test that quietly did not run."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CHASER_TEST_NO_SKIPS") == "1" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, and CHASER_TEST_NO_SKIPS=1 forbids skips: {reason}"
        return
    if report.when != "call" or not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        log_tail = getattr(value, "log_tail", None)
        if callable(log_tail):
            report.sections.append((f"chaser server log ({name})", log_tail(40)))
