"""Browser-session fixtures: skips naming what is missing, one Playwright driver per test session,
and helpers that drive a browser session over CDP through the gateway."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import User, make_user
from tests.integration.conftest import IMAGE_CACHE, Server, runtime_missing

HOST_CHROMIUM = "/usr/bin/chromium"


def browser_missing() -> str | None:
    reason = runtime_missing()
    if reason:
        return reason
    if not (IMAGE_CACHE / "browser").exists():
        return f"needs the browser image: {IMAGE_CACHE / 'browser'} is missing (images/build-browser.sh)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "needs the playwright package (the dev extra of pyproject.toml)"
    return None


def host_chromium_missing() -> str | None:
    if not shutil.which("chromium") and not os.path.exists(HOST_CHROMIUM):
        return "needs Debian's chromium on the host (scripts/test.sh installs it)"
    return None


@pytest.fixture(scope="module")
def pw() -> Iterator[Any]:
    """Playwright's sync API runs an event loop in the main thread while it is open: keep it to
    one module, or every asyncio/anyio test after the browser tests finds a loop already running."""
    reason = browser_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser_user(pw: Any, sqlite_server: Server) -> User:
    return make_user(sqlite_server)


def auth(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.key}"}


def first_page(browser: Any) -> Any:
    context = browser.contexts[0] if browser.contexts else browser.new_context()
    return context.pages[0] if context.pages else context.new_page()
