from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from chaser.api.deps import Db, HostDep, LeasesDep, Paging, PolicyDep, Requires, SettingsDep
from chaser.api.schemas.common import Page
from chaser.api.schemas.sessions import (
    BulkFailure,
    BulkTerminate,
    BulkTerminateOut,
    SessionCreate,
    SessionOut,
    TokenCreate,
    TokenOut,
    TokenUrls,
)
from chaser.domain import browsers, session_io, sessions, tokens
from chaser.domain.principal import Principal
from chaser.settings import ServerSettings
from chaser.store.models import Session, utcnow

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

Reader = Annotated[Principal, Requires("sessions.read")]
Writer = Annotated[Principal, Requires("sessions.write")]
Executor = Annotated[Principal, Requires("exec.write")]


def out(s: Session, settings: ServerSettings) -> SessionOut:
    return SessionOut.of(s, settings.resolved_public_url(), settings.resolved_base_domain())


@router.post(
    "",
    status_code=201,
    responses={200: {"model": SessionOut, "description": "The workspace's live session, reused"}},
)
async def create(
    body: SessionCreate,
    who: Writer,
    db: Db,
    host: HostDep,
    settings: SettingsDep,
    policy: PolicyDep,
    response: Response,
) -> SessionOut:
    """Create a session (201), or return the workspace's live session (200)."""
    spec = sessions.SessionSpec(**body.model_dump())
    s, created = await sessions.create(db, host, who, spec, policy)
    if not created:
        response.status_code = 200
    return out(s, settings)


@router.get("")
async def list_(
    who: Reader,
    db: Db,
    host: HostDep,
    settings: SettingsDep,
    page: Paging,
    status: str | None = None,
    session_type: str | None = None,
) -> Page[SessionOut]:
    rows, total = await sessions.list_sessions(
        db, host, who, status=status, session_type=session_type, limit=page.limit, offset=page.offset
    )
    return Page(data=[out(s, settings) for s in rows], count=total, limit=page.limit, offset=page.offset)


@router.post("/bulk-terminate")
async def bulk_terminate(
    body: BulkTerminate, who: Writer, db: Db, host: HostDep, leases: LeasesDep
) -> BulkTerminateOut:
    """Terminate many sessions; ones with open connections fail with `active_connections` unless `force`."""
    result = await sessions.bulk_terminate(
        db,
        host,
        who,
        ids=body.ids,
        workspaces=body.workspaces,
        all_sessions=body.all,
        session_type=body.session_type,
        force=body.force,
        leases=leases,
    )
    return BulkTerminateOut(terminated=result.terminated, failed=[BulkFailure(**f) for f in result.failed])


@router.get("/{session_id}")
async def get(session_id: str, who: Reader, db: Db, host: HostDep, settings: SettingsDep) -> SessionOut:
    return out(await sessions.get(db, host, who, session_id), settings)


@router.delete("/{session_id}")
async def terminate(
    session_id: str,
    who: Writer,
    db: Db,
    host: HostDep,
    settings: SettingsDep,
    leases: LeasesDep,
    force: Annotated[
        bool, Query(description="Terminate even with active connections (and close them)")
    ] = False,
) -> SessionOut:
    """Destroy the VM. Idempotent: a terminated session is returned as is. With open connections
    (PTY, command streams, forwards, tunnels) → 409 `active_connections` unless `force=true`."""
    return out(await sessions.terminate(db, host, who, session_id, force=force, leases=leases), settings)


@router.post("/{session_id}/self-test")
async def self_test(session_id: str, who: Executor, db: Db, host: HostDep) -> dict[str, Any]:
    """What the sandbox offers, reported from inside: cwd, PATH, shell, user, detected tools
    (python3, git, node, ...), Chaser markers, agent version, OS, plus `session_id`."""
    return await session_io.self_test(db, host, who, session_id)


@router.post("/{session_id}/token")
async def token(
    session_id: str,
    who: Executor,
    db: Db,
    host: HostDep,
    settings: SettingsDep,
    request: Request,
    body: TokenCreate | None = None,
) -> TokenOut:
    """A signed, short-lived token for this session's gateway (`?chaser_token=`, then a cookie),
    PTY and tunnels; it grants `exec.write` on this one session only."""
    s = await browsers.open_for_token(db, who, session_id)
    await db.commit()
    value, expires_at = tokens.issue(
        request.app.state.token_secret, s.id, s.account_id, (body or TokenCreate()).ttl_s, utcnow()
    )
    session = out(s, settings)
    return TokenOut(
        token=value,
        expires_at=expires_at,
        urls=TokenUrls(
            path_style=f"{session.endpoints.path_style}?chaser_token={value}",
            subdomain_style=f"{session.endpoints.subdomain_style}?chaser_token={value}",
        ),
    )
