"""Browser sessions: who may open CDP and the live view, the supervisor's state, extensions.

Credentials are those of the gateway (`chaser.domain.connections`): an API key holding
`exec.write` or a session token for that one session."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain import extensions
from chaser.domain.connections import SCOPE
from chaser.domain.errors import InvalidRequest, SessionNotOpen, SessionNotReady
from chaser.domain.host import Host, host_errors
from chaser.domain.principal import Principal
from chaser.domain.session_io import open_sandbox
from chaser.domain.sessions import get_owned
from chaser.domain.tokens import principal_for
from chaser.store.models import Session, utcnow

SESSION_TYPE = "browser"


async def open_browser(db: AsyncSession, who: Principal, session_id: str) -> Session:
    """The session, if its browser can be reached now: `running` and a browser."""
    s = await get_owned(db, who, session_id)
    if s.session_type != SESSION_TYPE:
        raise InvalidRequest("CDP, extensions and the live view are for browser sessions only")
    if s.status == "creating":
        raise SessionNotReady()
    if s.status != "running":
        raise SessionNotOpen()
    return s


async def authorize(
    db: AsyncSession, secret: bytes, credential: str | None, session_id: str
) -> tuple[Principal, Session]:
    who = await principal_for(db, secret, credential, session_id, utcnow())
    who.require(SCOPE)
    s = await open_browser(db, who, session_id)
    await db.commit()  # CDP sockets live long: hold no transaction
    return who, s


async def status(db: AsyncSession, host: Host, who: Principal, session_id: str) -> dict[str, Any]:
    s = await open_browser(db, who, session_id)
    await db.commit()
    with host_errors("browser status"):
        return await host.fast.browser_status(s.host_vm_id or s.id)


async def add_extension(
    db: AsyncSession, host: Host, who: Principal, session_id: str, filename: str, data: bytes
) -> dict[str, Any]:
    """Checks the archive, unpacks it into the browser's extensions dir (the workspace disk for a
    persistent session) and restarts Chromium with it loaded."""
    s = await open_browser(db, who, session_id)
    await db.commit()
    ext = extensions.read_archive(filename, data)
    with host_errors("extension install"):
        state = await host.client.add_browser_extension(s.host_vm_id or s.id, ext.name, ext.tar)
    return {
        "name": ext.name,
        "manifest_name": ext.manifest.get("name"),
        "version": ext.manifest.get("version"),
        "loaded": [p.rsplit("/", 1)[-1] for p in state.get("extensions", [])],
        "kept": not s.ephemeral,
    }


async def open_for_token(db: AsyncSession, who: Principal, session_id: str) -> Session:
    """A session token's session: a running sandbox (PTY, forwards) or browser (CDP, live view)."""
    s = await get_owned(db, who, session_id)
    if s.session_type == SESSION_TYPE:
        return await open_browser(db, who, session_id)
    return await open_sandbox(db, who, session_id)
