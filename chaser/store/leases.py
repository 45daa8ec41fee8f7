"""Connection lease rows: written when a stream opens, deleted when it ends, refreshed by their
holder's heartbeat, reaped when the holder is gone."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chaser.store.models import ConnectionLease


async def add(db: AsyncSession, lease: ConnectionLease) -> None:
    db.add(lease)
    await db.flush()


async def remove(db: AsyncSession, lease_id: str) -> None:
    await db.execute(
        delete(ConnectionLease)
        .where(ConnectionLease.id == lease_id)
        .execution_options(synchronize_session=False)
    )


async def count(db: AsyncSession, session_id: str) -> int:
    query = select(func.count()).select_from(ConnectionLease).where(ConnectionLease.session_id == session_id)
    return int((await db.execute(query)).scalar_one())


async def touch(db: AsyncSession, lease_ids: Collection[str], now: datetime) -> None:
    if lease_ids:
        await db.execute(
            update(ConnectionLease)
            .where(ConnectionLease.id.in_(list(lease_ids)))
            .values(heartbeat_at=now)
            .execution_options(synchronize_session=False)
        )


async def holders(db: AsyncSession) -> list[str]:
    return list((await db.execute(select(ConnectionLease.holder).distinct())).scalars())


async def remove_held_by(db: AsyncSession, holders: Collection[str]) -> int:
    if not holders:
        return 0
    result = await db.execute(
        delete(ConnectionLease)
        .where(ConnectionLease.holder.in_(list(holders)))
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def remove_stale(db: AsyncSession, older_than: datetime) -> int:
    result = await db.execute(
        delete(ConnectionLease)
        .where(ConnectionLease.heartbeat_at < older_than)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def remove_for_session(db: AsyncSession, session_id: str) -> int:
    result = await db.execute(
        delete(ConnectionLease)
        .where(ConnectionLease.session_id == session_id)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
