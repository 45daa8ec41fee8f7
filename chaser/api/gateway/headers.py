"""Header rules of the forward (pure): hop-by-hop headers never cross the proxy, the caller's
Chaser credentials never reach the guest, and the guest learns where the request came from."""

from __future__ import annotations

from collections.abc import Iterable

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set by the proxy itself; a client's own values are replaced, not trusted.
PROXY_SET = frozenset(
    {
        b"host",
        b"authorization",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-prefix",
    }
)
WEBSOCKET_HANDSHAKE = frozenset(
    {
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"sec-websocket-accept",
    }
)
TOKEN_PARAM = "chaser_token"


def _connection_named(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named |= {v.strip().lower() for v in value.split(b",") if v.strip()}
    return named


def strip_cookie(value: bytes, cookie_name: str) -> bytes:
    """The Cookie header without the session's gateway cookie."""
    kept = [
        part.strip()
        for part in value.split(b";")
        if part.strip() and part.strip().split(b"=", 1)[0].strip().decode("latin-1") != cookie_name
    ]
    return b"; ".join(kept)


def request_headers(
    headers: Iterable[tuple[bytes, bytes]],
    *,
    cookie_name: str,
    port: int,
    client_ip: str | None,
    scheme: str,
    original_host: str,
    prefix: str,
    websocket: bool = False,
) -> list[tuple[bytes, bytes]]:
    headers = list(headers)
    drop = HOP_BY_HOP | PROXY_SET | _connection_named(headers)
    if websocket:
        drop |= WEBSOCKET_HANDSHAKE
    out: list[tuple[bytes, bytes]] = [(b"host", f"localhost:{port}".encode())]
    forwarded_for = []
    for name, value in headers:
        lname = name.lower()
        if lname == b"x-forwarded-for":
            forwarded_for.append(value.decode("latin-1"))
        if lname in drop:
            continue
        if lname == b"cookie":
            value = strip_cookie(value, cookie_name)
            if not value:
                continue
        out.append((lname, value))
    if client_ip:
        forwarded_for.append(client_ip)
    if forwarded_for:
        out.append((b"x-forwarded-for", ", ".join(forwarded_for).encode("latin-1")))
    out.append((b"x-forwarded-proto", scheme.encode()))
    out.append((b"x-forwarded-host", original_host.encode("latin-1")))
    out.append((b"x-forwarded-prefix", prefix.encode()))
    return out


def response_headers(headers: Iterable[tuple[bytes, bytes]], prefix: str) -> list[tuple[bytes, bytes]]:
    """The guest's headers minus hop-by-hop ones; a root-relative `Location` gets the prefix, so
    a redirect stays behind the proxy."""
    headers = list(headers)
    drop = HOP_BY_HOP | _connection_named(headers)
    out = []
    for name, value in headers:
        lname = name.lower()
        if lname in drop:
            continue
        if lname == b"location" and value.startswith(b"/") and not value.startswith(b"//"):
            value = prefix.encode() + value
        out.append((lname, value))
    return out


def without_token(query_string: bytes) -> bytes:
    """The query string without `chaser_token` (order and the other parameters kept)."""
    if TOKEN_PARAM.encode() not in query_string:
        return query_string
    name = TOKEN_PARAM.encode()
    kept = [p for p in query_string.split(b"&") if p and p.split(b"=", 1)[0] != name]
    return b"&".join(kept)
