"""The gateway's pure parts: which session a request is for, the forward's path and prefix, and
the header rules (hop-by-hop dropped, credentials stripped, X-Forwarded-* added)."""

from __future__ import annotations

from chaser.api.gateway import headers as h
from chaser.api.gateway import routing

SID = "0b7e6b1c-7f6a-4b59-9a57-3c2b1e0f9d11"


def test_subdomain_form() -> None:
    t = routing.target(f"{SID}.localhost:8000", "/forward/8000/x", "localhost:8000")
    assert t == routing.Target(session_id=SID, base="", rest="/forward/8000/x", subdomain=True)
    assert routing.target(f"{SID.upper()}.LOCALHOST:8000", "/", "localhost:8000") is not None
    # Behind a proxy on the default port the Host has no port.
    assert routing.target(f"{SID}.localhost", "/", "localhost:8000") is not None
    assert routing.target("localhost:8000", "/v1/sessions", "localhost:8000") is None
    assert routing.target(f"{SID}.example.com", "/", "localhost:8000") is None
    assert routing.target("not-a-uuid.localhost:8000", "/", "localhost:8000") is None


def test_path_form() -> None:
    t = routing.target("127.0.0.1:8000", f"/s/{SID}/forward/3000/a/b", "localhost:8000")
    assert t is not None and t.base == f"/s/{SID}" and t.rest == "/forward/3000/a/b"
    bare = routing.target("127.0.0.1:8000", f"/s/{SID}", "localhost:8000")
    assert bare is not None and bare.rest == ""
    assert routing.target("127.0.0.1:8000", "/s/nope/x", "localhost:8000") is None


def test_forward_paths_and_prefixes() -> None:
    t = routing.target("h", f"/s/{SID}/forward/8000/static/app.js", "localhost:1")
    assert t is not None
    fwd = routing.forward(t)
    assert fwd == routing.Forward(port=8000, path="/static/app.js", prefix=f"/s/{SID}/forward/8000")
    root = routing.forward(routing.Target(SID, "", "/forward/8000", True))
    assert root is not None and root.path == "/" and root.prefix == "/forward/8000"
    assert routing.forward(routing.Target(SID, "", "/pty", True)) is None


def test_request_headers() -> None:
    cookie = f"theme=dark; chaser_session_{SID}=cst_x; other=1"
    out = h.request_headers(
        [
            (b"host", b"x.localhost:8000"),
            (b"authorization", b"Bearer sk_secret"),
            (b"cookie", cookie.encode()),
            (b"connection", b"keep-alive, x-custom-hop"),
            (b"x-custom-hop", b"1"),
            (b"transfer-encoding", b"chunked"),
            (b"x-forwarded-for", b"10.0.0.1"),
            (b"accept", b"*/*"),
        ],
        cookie_name=f"chaser_session_{SID}",
        port=8000,
        client_ip="127.0.0.1",
        scheme="http",
        original_host="x.localhost:8000",
        prefix="/forward/8000",
    )
    d = dict(out)
    assert d[b"host"] == b"localhost:8000"
    assert b"authorization" not in d and b"connection" not in d and b"x-custom-hop" not in d
    assert b"transfer-encoding" not in d
    assert d[b"cookie"] == b"theme=dark; other=1"
    assert d[b"x-forwarded-for"] == b"10.0.0.1, 127.0.0.1"
    assert d[b"x-forwarded-host"] == b"x.localhost:8000"
    assert d[b"x-forwarded-prefix"] == b"/forward/8000"
    assert d[b"accept"] == b"*/*"


def test_only_cookie_is_the_session_cookie() -> None:
    out = h.request_headers(
        [(b"cookie", f"chaser_session_{SID}=t".encode())],
        cookie_name=f"chaser_session_{SID}",
        port=1,
        client_ip=None,
        scheme="http",
        original_host="h",
        prefix="/p",
    )
    assert b"cookie" not in dict(out)


def test_response_headers_and_location() -> None:
    out = h.response_headers(
        [
            (b"Location", b"/dir/"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Set-Cookie", b"a=1"),
            (b"Content-Type", b"text/html"),
        ],
        f"/s/{SID}/forward/8000",
    )
    assert out == [
        (b"location", f"/s/{SID}/forward/8000/dir/".encode()),
        (b"set-cookie", b"a=1"),
        (b"content-type", b"text/html"),
    ]
    absolute = h.response_headers([(b"location", b"http://elsewhere/")], "/p")
    assert absolute == [(b"location", b"http://elsewhere/")]


def test_without_token() -> None:
    assert h.without_token(b"a=1&chaser_token=cst_x&b=%20") == b"a=1&b=%20"
    assert h.without_token(b"chaser_token=x") == b""
    assert h.without_token(b"q=chaser_token") == b"q=chaser_token"
