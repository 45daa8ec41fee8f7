"""Where a request for a session's control endpoint is headed (pure functions, no I/O).

Two forms reach the same session: the Host header `<session_id>.<base_domain>` (the whole path
belongs to the session) and `/s/<session_id>/...` on the API host (the rest of the path does)."""

from __future__ import annotations

import re
from dataclasses import dataclass

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
PATH_RE = re.compile(r"^/s/(" + UUID_RE.pattern + r")(/.*)?$", re.IGNORECASE)
FORWARD_RE = re.compile(r"^/forward/([0-9]{1,5})(/.*)?$")


@dataclass(frozen=True)
class Target:
    session_id: str
    base: str  # the path prefix the session's endpoint sits under: "" or "/s/<id>"
    rest: str  # the path inside the endpoint, "" when the endpoint root had no slash
    subdomain: bool


def _hostname(host: str) -> str:
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def target(host_header: str, path: str, base_domain: str) -> Target | None:
    """The session a request is for, or None when it is an ordinary API request."""
    host = host_header.strip().lower().rstrip(".")
    label, dot, domain = host.partition(".")
    base = base_domain.strip().lower().rstrip(".")
    if dot and UUID_RE.fullmatch(label) and domain in (base, _hostname(base)):
        return Target(session_id=label, base="", rest=path or "/", subdomain=True)
    match = PATH_RE.match(path)
    if match:
        session_id = match.group(1).lower()
        return Target(
            session_id=session_id, base=f"/s/{session_id}", rest=match.group(2) or "", subdomain=False
        )
    return None


@dataclass(frozen=True)
class Forward:
    port: int
    path: str  # what the guest sees: always starts with "/"
    prefix: str  # X-Forwarded-Prefix: what the proxy stripped


def forward(t: Target) -> Forward | None:
    """`/forward/<port>/<path>` → port and guest path; None for any other path. The port may
    be out of range here (checked by the caller, so the error names it)."""
    match = FORWARD_RE.match(t.rest)
    if not match:
        return None
    port = int(match.group(1))
    return Forward(port=port, path=match.group(2) or "/", prefix=f"{t.base}/forward/{port}")
