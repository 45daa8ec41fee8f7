"""`POST /v1/sessions/{id}/extensions`: an extension with a content script is loaded (Chromium
restarts with it) and changes the page; on a workspace it is still loaded in the next session;
bad archives are refused with the rule they broke (every rule: tests/unit/domain/test_extensions.py)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from tests.factories import User, create_session, create_workspace, expect, expect_error, terminate
from tests.integration.browser.conftest import auth, first_page

pytestmark = [pytest.mark.gvisor]

MANIFEST = {
    "manifest_version": 3,
    "name": "chaser marker",
    "version": "1.0",
    "content_scripts": [{"matches": ["http://ext.test/*"], "js": ["marker.js"], "run_at": "document_end"}],
}
SCRIPT = "document.body.setAttribute('data-ext', 'loaded'); document.title = 'changed by extension';"


def extension_zip(wrapper: str = "marker/") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(f"{wrapper}manifest.json", json.dumps(MANIFEST))
        z.writestr(f"{wrapper}marker.js", SCRIPT)
    return out.getvalue()


def upload(user: User, sid: str, filename: str, data: bytes) -> Any:
    return user.api.post(f"/v1/sessions/{sid}/extensions", files={"file": (filename, data)})


def test_extension_loads_and_stays_on_the_workspace(pw: Any, browser_user: User) -> None:
    api = browser_user.api
    ws = create_workspace(api, session_type="browser")
    session = create_session(api, session_type="browser", workspace=ws["id"])
    sid = session["id"]

    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("../manifest.json", "{}")
    assert "'..'" in expect_error(
        upload(browser_user, sid, "bad.zip", bad.getvalue()), 400, "invalid_request"
    )
    assert "manifest.json" in expect_error(
        upload(browser_user, sid, "empty.zip", extension_zip("a/b/")), 400, "invalid_request"
    )

    added = expect(upload(browser_user, sid, "marker.zip", extension_zip()), 201)
    assert added["name"] == "marker" and added["loaded"] == ["marker"] and added["kept"] is True

    browser = pw.chromium.connect_over_cdp(session["endpoints"]["control"], headers=auth(browser_user))
    try:
        page = first_page(browser)
        page.route(
            "http://ext.test/**",
            lambda route: route.fulfill(body="<title>plain</title><p>hi</p>", content_type="text/html"),
        )
        page.goto("http://ext.test/", timeout=60_000)
        page.wait_for_selector("body[data-ext=loaded]", timeout=30_000)
        assert page.title() == "changed by extension"
    finally:
        browser.close()
    terminate(api, sid)

    again = create_session(api, session_type="browser", workspace=ws["id"])
    state = expect(api.get(f"/v1/sessions/{again['id']}/browser"), 200)
    assert [p.rsplit("/", 1)[-1] for p in state["extensions"]] == ["marker"], state
    terminate(api, again["id"])

    sandbox = create_session(api, ephemeral=True)
    expect_error(upload(browser_user, sandbox["id"], "marker.zip", extension_zip()), 400, "invalid_request")
    terminate(api, sandbox["id"])
