# ruff: noqa: E501  (the page's JavaScript below keeps its natural line lengths)
"""The live view of a browser session (`endpoints.video` = `<endpoint>/live/`): a page that shows
the browser's screen (CDP `Page.startScreencast` on the first page target) and forwards clicks,
wheel and keys (`Input.dispatchMouseEvent` / `Input.dispatchKeyEvent`), so a person can finish a
login by hand. It talks CDP through this same endpoint (`json/list`, `devtools/page/<id>`), so it
needs no credentials of its own: open it with `?chaser_token=` (traded for the session cookie,
as everywhere on the gateway) or with a bearer header."""

from __future__ import annotations

from starlette.datastructures import Headers, QueryParams
from starlette.types import Receive, Scope, Send

from chaser.api.gateway import headers as h
from chaser.api.gateway.routing import Target
from chaser.domain import browsers
from chaser.domain.errors import ChaserError, NotFound

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Chaser live view</title>
<style>
 html,body{margin:0;background:#1e1e1e;color:#ddd;font:13px system-ui,sans-serif}
 #bar{padding:6px 10px;display:flex;gap:12px;align-items:center}
 #screen{display:block;max-width:100vw;cursor:crosshair;outline:none;background:#fff}
 #status{opacity:.8}
</style></head>
<body>
<div id="bar"><b>Chaser live view</b><span id="status">connecting…</span><span id="url"></span></div>
<img id="screen" tabindex="0" alt="the browser's screen">
<script>
(() => {
  const base = location.pathname.replace(/live\\/?$/, "");
  const wsBase = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + base;
  const img = document.getElementById("screen"), status = document.getElementById("status");
  let ws = null, seq = 0, meta = null;
  window.chaserFrames = 0;
  const send = (method, params) => ws && ws.readyState === 1 && ws.send(JSON.stringify({id: ++seq, method, params}));
  function point(ev) {
    const w = meta ? meta.deviceWidth : img.naturalWidth, h = meta ? meta.deviceHeight : img.naturalHeight;
    return {x: Math.round(ev.offsetX * w / img.clientWidth), y: Math.round(ev.offsetY * h / img.clientHeight)};
  }
  function mods(ev) { return (ev.altKey ? 1 : 0) | (ev.ctrlKey ? 2 : 0) | (ev.metaKey ? 4 : 0) | (ev.shiftKey ? 8 : 0); }
  async function connect() {
    status.textContent = "connecting…";
    const targets = await (await fetch(base + "json/list", {credentials: "same-origin"})).json();
    const page = targets.find(t => t.type === "page");
    if (!page) { status.textContent = "no page open in the browser"; setTimeout(connect, 2000); return; }
    document.getElementById("url").textContent = page.url;
    ws = new WebSocket(wsBase + "devtools/page/" + page.id);
    ws.onopen = () => {
      status.textContent = "live";
      send("Page.enable");
      send("Page.startScreencast", {format: "jpeg", quality: 70, maxWidth: 1600, maxHeight: 1200});
    };
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.method === "Page.screencastFrame") {
        meta = m.params.metadata;
        img.src = "data:image/jpeg;base64," + m.params.data;
        window.chaserFrames++;
        send("Page.screencastFrameAck", {sessionId: m.params.sessionId});
      } else if (m.method === "Page.frameNavigated" && !m.params.frame.parentId) {
        document.getElementById("url").textContent = m.params.frame.url;
      }
    };
    ws.onclose = () => { status.textContent = "disconnected; reconnecting…"; setTimeout(connect, 1000); };
  }
  img.addEventListener("mousedown", ev => {
    ev.preventDefault(); img.focus();
    send("Input.dispatchMouseEvent", {type: "mousePressed", ...point(ev), button: "left", clickCount: 1, modifiers: mods(ev)});
  });
  img.addEventListener("mouseup", ev => {
    send("Input.dispatchMouseEvent", {type: "mouseReleased", ...point(ev), button: "left", clickCount: 1, modifiers: mods(ev)});
  });
  img.addEventListener("wheel", ev => {
    ev.preventDefault();
    send("Input.dispatchMouseEvent", {type: "mouseWheel", ...point(ev), deltaX: ev.deltaX, deltaY: ev.deltaY});
  }, {passive: false});
  function key(type, ev) {
    ev.preventDefault();
    const params = {type, key: ev.key, code: ev.code, modifiers: mods(ev),
                    windowsVirtualKeyCode: ev.keyCode, nativeVirtualKeyCode: ev.keyCode};
    if (type === "keyDown" && ev.key.length === 1 && !ev.ctrlKey && !ev.metaKey) params.text = ev.key;
    send("Input.dispatchKeyEvent", params);
  }
  img.addEventListener("keydown", ev => key("keyDown", ev));
  img.addEventListener("keyup", ev => key("keyUp", ev));
  connect().catch(err => { status.textContent = "error: " + err; setTimeout(connect, 2000); });
})();
</script>
</body></html>
"""


def is_live_path(rest: str) -> bool:
    return rest in ("/live", "/live/")


async def serve_http(scope: Scope, receive: Receive, send: Send, t: Target, headers: Headers) -> None:
    from chaser.api.gateway import cdp
    from chaser.api.gateway.middleware import _error, _redirect, _set_cookie_and_redirect

    state = scope["app"].state
    request_id = scope.setdefault("state", {}).get("request_id") or ""
    try:
        if scope["method"] not in ("GET", "HEAD"):
            raise NotFound("the live view answers GET only")
        if t.rest == "/live":
            query = scope.get("query_string", b"")
            await _redirect(
                send, f"{t.base}/live/" + ("?" + query.decode("latin-1") if query else ""), request_id
            )
            return
        token, cred = cdp.credential(scope, headers, t)
        async with state.sessionmaker() as db:
            await browsers.authorize(db, state.token_secret, cred, t.session_id)
        if QueryParams(scope.get("query_string", b"")).get(h.TOKEN_PARAM) and token:
            await _set_cookie_and_redirect(scope, send, t, token, state.token_secret, request_id)
            return
        body = PAGE.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
    except ChaserError as exc:
        await _error(send, exc, request_id)
