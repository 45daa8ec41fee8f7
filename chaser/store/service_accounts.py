"""Service accounts: non-human members of an organization that own API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chaser.store.models import ServiceAccount


async def create(db: AsyncSession, account_id: str, name: str) -> ServiceAccount:
    sa = ServiceAccount(account_id=account_id, name=name)
    db.add(sa)
    await db.flush()
    return sa


async def get(db: AsyncSession, account_id: str, sa_id: str) -> ServiceAccount | None:
    sa = await db.get(ServiceAccount, sa_id)
    if sa is None or sa.account_id != account_id or sa.deleted_at is not None:
        return None
    return sa


async def list_for(db: AsyncSession, account_id: str) -> list[ServiceAccount]:
    query = (
        select(ServiceAccount)
        .where(ServiceAccount.account_id == account_id, ServiceAccount.deleted_at.is_(None))
        .order_by(ServiceAccount.created_at)
    )
    return list((await db.execute(query)).scalars())


async def mark_deleted(db: AsyncSession, sa: ServiceAccount, now: datetime) -> None:
    # Soft delete: keys reference the row, and audit history keeps pointing at it.
    sa.deleted_at = now
    await db.flush()
