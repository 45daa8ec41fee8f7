"""Session rows. Status transitions are conditional UPDATEs, so a racing terminate and a
finishing create can't overwrite each other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chaser.store.models import Session

LIVE = ("creating", "running")


async def add(db: AsyncSession, session: Session) -> Session:
    db.add(session)
    await db.flush()
    return session


async def get(db: AsyncSession, account_id: str, session_id: str) -> Session | None:
    s = await db.get(Session, session_id)
    return s if s is not None and s.account_id == account_id else None


async def get_any(db: AsyncSession, session_id: str, *, refresh: bool = False) -> Session | None:
    s = await db.get(Session, session_id)
    if s is not None and refresh:
        await db.refresh(s)
    return s


async def list_for(
    db: AsyncSession,
    account_id: str,
    *,
    status: str | None,
    session_type: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Session], int]:
    where: list[Any] = [Session.account_id == account_id]
    if status:
        where.append(Session.status == status)
    if session_type:
        where.append(Session.session_type == session_type)
    total = (await db.execute(select(func.count()).select_from(Session).where(*where))).scalar_one()
    query = select(Session).where(*where).order_by(Session.created_at.desc(), Session.id)
    return list((await db.execute(query.limit(limit).offset(offset))).scalars()), int(total)


async def list_with_status(db: AsyncSession, statuses: Sequence[str]) -> list[Session]:
    return list((await db.execute(select(Session).where(Session.status.in_(statuses)))).scalars())


async def list_live_in_workspaces(db: AsyncSession, account_id: str, ws_ids: Sequence[str]) -> list[Session]:
    query = select(Session).where(
        Session.account_id == account_id, Session.workspace_id.in_(ws_ids), Session.status.in_(LIVE)
    )
    return list((await db.execute(query)).scalars())


async def mark_running(db: AsyncSession, session_id: str, runtime: str, accel: str, vm_id: str) -> bool:
    """creating → running. False when the session was terminated meanwhile."""
    result = await db.execute(
        update(Session)
        .where(Session.id == session_id, Session.status == "creating")
        .values(status="running", runtime=runtime, accel=accel, host_vm_id=vm_id)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def mark_terminated(db: AsyncSession, session_id: str, reason: str, now: datetime) -> bool:
    """creating|running → terminated. False when it already was (the first reason wins)."""
    result = await db.execute(
        update(Session)
        .where(Session.id == session_id, Session.status.in_(LIVE))
        .values(status="terminated", termination_reason=reason, terminated_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
