"""A workspace-backed browser keeps its profile on the workspace disk: a cookie and local storage
set in one session are there in the next session on the same workspace; an ephemeral browser
starts empty."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import User, create_session, create_workspace, terminate
from tests.integration.browser.conftest import auth, first_page

pytestmark = [pytest.mark.gvisor]

ORIGIN = "http://login.test"
LOGIN = """<!doctype html><title>login</title><script>
localStorage.setItem('session', 'alice-42');
document.cookie = 'sid=alice; max-age=86400; path=/';
</script>"""
READ = "<!doctype html><title>read</title>"


def _visit(pw: Any, user: User, control: str, html: str) -> tuple[dict[str, str], str | None]:
    browser = pw.chromium.connect_over_cdp(control, headers=auth(user))
    try:
        page = first_page(browser)
        page.route(f"{ORIGIN}/**", lambda route: route.fulfill(body=html, content_type="text/html"))
        page.goto(f"{ORIGIN}/", timeout=60_000)
        stored = page.evaluate("localStorage.getItem('session')")
        cookies = {c["name"]: c["value"] for c in page.context.cookies(ORIGIN)}
        page.unroute(f"{ORIGIN}/**")
        return cookies, stored
    finally:
        browser.close()


def test_profile_survives_sessions_on_a_workspace(pw: Any, browser_user: User) -> None:
    api = browser_user.api
    ws = create_workspace(api, session_type="browser")
    first = create_session(api, session_type="browser", workspace=ws["id"])
    cookies, stored = _visit(pw, browser_user, first["endpoints"]["control"], LOGIN)
    assert cookies.get("sid") == "alice" and stored == "alice-42"
    terminate(api, first["id"])

    second = create_session(api, session_type="browser", workspace=ws["name"])
    assert second["id"] != first["id"]
    cookies, stored = _visit(pw, browser_user, second["endpoints"]["control"], READ)
    assert cookies.get("sid") == "alice", "the cookie set in the first session is kept"
    assert stored == "alice-42", "local storage set in the first session is kept"
    terminate(api, second["id"])

    ephemeral = create_session(api, session_type="browser", ephemeral=True)
    cookies, stored = _visit(pw, browser_user, ephemeral["endpoints"]["control"], READ)
    assert "sid" not in cookies and stored is None
    terminate(api, ephemeral["id"])
