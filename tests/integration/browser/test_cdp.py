"""CDP through the gateway: Playwright's `connect_over_cdp` on `endpoints.control` (path form,
bearer header), on the endpoint root with `?chaser_token=` (discovery through `/json/version`,
as Puppeteer's browserURL does), and on the subdomain form (Host header); `/json/list` rewritten;
a page served from inside another sandbox (through its `/forward/` endpoint) opened, clicked, read
and captured; the CDP socket holds a lease."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import httpx
import pytest

from tests.factories import User, create_session, expect, expect_error, run, terminate
from tests.integration.browser.conftest import auth, first_page
from tests.integration.conftest import Server

pytestmark = [pytest.mark.gvisor]

PAGE = """<!doctype html><title>served by a sandbox</title>
<button id=b onclick="document.getElementById('out').textContent='clicked ' + location.host">go</button>
<p id=out>waiting</p>"""


def test_connect_over_cdp_both_forms(pw: Any, browser_user: User, sqlite_server: Server) -> None:
    api = browser_user.api
    session = create_session(api, session_type="browser", ephemeral=True)
    sid = session["id"]
    assert session["image"] == "browser" and session["endpoints"]["video"].endswith(f"/s/{sid}/live/")
    control = session["endpoints"]["control"]
    assert control.startswith("ws://") and control.endswith(f"/s/{sid}/devtools/browser/{sid}")

    # A sandbox serving the page; the browser gets it through the gateway's /forward/.
    web = create_session(api, ephemeral=True)
    run(api, web["id"], f"mkdir -p /srv && cat > /srv/index.html <<'X'\n{PAGE}\nX")
    run(api, web["id"], "cd /srv && python3 -m http.server 8000 >/dev/null 2>&1 &", background=True)
    forward = f"{sqlite_server.url}/s/{web['id']}/forward/8000/"
    # The server starts in the background: wait until it answers, or the page gets a 502 body.
    deadline = time.monotonic() + 30
    while httpx.get(forward, headers=auth(browser_user), timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the sandbox's http.server never answered"
        time.sleep(0.2)

    browser = pw.chromium.connect_over_cdp(control, headers=auth(browser_user))
    try:
        assert expect(api.get(f"/v1/sessions/{sid}"), 200)["active_connection_leases"] >= 1
        page = first_page(browser)

        # The page's requests are answered by the test (app.test resolves nowhere), which
        # fetches them from the sandbox through the gateway.
        def from_sandbox(route: Any) -> None:
            r = httpx.get(forward, headers=auth(browser_user), timeout=30)
            route.fulfill(status=r.status_code, body=r.content, content_type="text/html")

        page.route("http://app.test/**", from_sandbox)
        page.goto("http://app.test/", timeout=60_000)
        assert page.title() == "served by a sandbox"
        page.click("#b")
        assert page.text_content("#out") == "clicked app.test"
        shot = page.screenshot()
        assert shot.startswith(b"\x89PNG") and len(shot) > 1000
        expect_error(api.delete(f"/v1/sessions/{sid}"), 409, "active_connections")
    finally:
        browser.close()

    # Discovery with a session token in the URL (Puppeteer's browserURL / browserWSEndpoint).
    token = expect(api.post(f"/v1/sessions/{sid}/token", json={}), 200)["token"]
    version = httpx.get(f"{sqlite_server.url}/s/{sid}/json/version?chaser_token={token}").json()
    ws_url = version["webSocketDebuggerUrl"]
    assert ws_url.startswith(f"ws://127.0.0.1:{sqlite_server.port}/s/{sid}/devtools/browser/"), ws_url
    assert ws_url.endswith(f"?chaser_token={token}")
    listing = httpx.get(f"{sqlite_server.url}/s/{sid}/json/list", headers=auth(browser_user)).json()
    assert listing and all("localhost:9222" not in str(t) for t in listing), listing
    browser = pw.chromium.connect_over_cdp(f"{sqlite_server.url}/s/{sid}/?chaser_token={token}")
    try:
        assert first_page(browser).evaluate("1 + 1") == 2
    finally:
        browser.close()

    # The subdomain form: the Host header names the session.
    host = f"{sid}.localhost:{sqlite_server.port}"
    browser = pw.chromium.connect_over_cdp(
        f"ws://127.0.0.1:{sqlite_server.port}/devtools/browser/{sid}",
        headers={**auth(browser_user), "Host": host},
    )
    try:
        assert first_page(browser).evaluate("navigator.userAgent").find("Chrome") >= 0
    finally:
        browser.close()

    # No credentials: refused. Files stay sandbox-only.
    assert httpx.get(f"{sqlite_server.url}/s/{sid}/json/version").status_code == 401
    expect_error(
        api.post(f"/v1/sessions/{sid}/upload", data={"path": "/tmp/x"}, files={"file": b"x"}),
        400,
        "invalid_request",
    )
    state = expect(api.get(f"/v1/sessions/{sid}/browser"), 200)
    assert state["running"] and state["ready"] and state["restarts"] == 0, state

    # A crashed Chromium is relaunched by the agent, and the session reports it.
    browser = pw.chromium.connect_over_cdp(control, headers=auth(browser_user))
    cdp = browser.new_browser_cdp_session()
    with contextlib.suppress(Exception):  # the browser dies under the call
        cdp.send("Browser.crash")
    with contextlib.suppress(Exception):
        browser.close()
    deadline = time.monotonic() + 60
    while True:
        state = expect(api.get(f"/v1/sessions/{sid}/browser"), 200)
        if state["restarts"] >= 1 and state["ready"]:
            break
        assert time.monotonic() < deadline, f"Chromium was not relaunched: {state}"
        time.sleep(0.5)
    assert state["exits"], state
    browser = pw.chromium.connect_over_cdp(control, headers=auth(browser_user))
    try:
        assert first_page(browser).evaluate("2 + 2") == 4
    finally:
        browser.close()
    terminate(api, sid)
    terminate(api, web["id"])
