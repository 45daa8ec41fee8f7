"""The live view (`endpoints.video`), opened in headless Chromium on the host with a session
token: it shows a non-blank frame of the session's page, and a click on it reaches the page."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.factories import User, create_session, expect, terminate
from tests.integration.browser.conftest import HOST_CHROMIUM, auth, first_page, host_chromium_missing

pytestmark = [pytest.mark.gvisor]

PAGE = """data:text/html,<title>live</title>
<body style="margin:0;background:rgb(200,30,30)" onclick="document.title='clicked'">
<h1 style="color:white">live view</h1></body>"""


def test_live_view_shows_the_page_and_forwards_clicks(pw: Any, browser_user: User) -> None:
    reason = host_chromium_missing()
    if reason:
        pytest.skip(reason)
    api = browser_user.api
    session = create_session(api, session_type="browser", ephemeral=True)
    sid = session["id"]
    remote = pw.chromium.connect_over_cdp(session["endpoints"]["control"], headers=auth(browser_user))
    viewer = pw.chromium.launch(executable_path=HOST_CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
    try:
        page = first_page(remote)
        page.goto(PAGE)
        token = expect(api.post(f"/v1/sessions/{sid}/token", json={}), 200)["token"]
        live = viewer.new_page()
        live.goto(f"{session['endpoints']['video']}?chaser_token={token}")
        live.wait_for_function(
            "window.chaserFrames > 0 && document.getElementById('screen').naturalWidth > 0"
        )
        frame = live.evaluate(
            """() => { const img = document.getElementById('screen');
                       const c = document.createElement('canvas');
                       c.width = img.naturalWidth; c.height = img.naturalHeight;
                       const g = c.getContext('2d'); g.drawImage(img, 0, 0);
                       const [r, gr, b] = g.getImageData(5, img.naturalHeight - 5, 1, 1).data;
                       return {w: c.width, h: c.height, r, g: gr, b, png: c.toDataURL('image/png')}; }"""
        )
        assert frame["w"] > 100 and frame["h"] > 100, frame["w"]
        assert frame["r"] > 150 and frame["g"] < 90 and frame["b"] < 90, "the frame shows the red page"
        assert len(base64.b64decode(frame["png"].split(",", 1)[1])) > 1000
        live.click("#screen", position={"x": 50, "y": 100})
        page.wait_for_function("document.title === 'clicked'", timeout=15_000)
    finally:
        viewer.close()
        remote.close()
    terminate(api, sid)
