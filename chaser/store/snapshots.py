"""Snapshot rows: restore points of a workspace disk. Names are unique per workspace,
case-insensitively (`name_lower`), so a clash surfaces as `name_taken` before any copy runs."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import NameTaken
from chaser.store._integrity import conflict_as
from chaser.store.models import Snapshot


async def create(db: AsyncSession, snap: Snapshot) -> Snapshot:
    snap.name_lower = snap.name.lower()
    taken = NameTaken(f"name: the workspace already has a snapshot named {snap.name!r}")
    async with conflict_as(db, taken):
        db.add(snap)
    return snap


async def get(db: AsyncSession, workspace_id: str, snapshot_id: str) -> Snapshot | None:
    snap = await db.get(Snapshot, snapshot_id)
    return snap if snap is not None and snap.workspace_id == workspace_id else None


async def get_by_name(db: AsyncSession, workspace_id: str, name: str) -> Snapshot | None:
    query = select(Snapshot).where(Snapshot.workspace_id == workspace_id, Snapshot.name_lower == name.lower())
    return (await db.execute(query)).scalar_one_or_none()


async def list_for(db: AsyncSession, workspace_id: str) -> list[Snapshot]:
    query = (
        select(Snapshot)
        .where(Snapshot.workspace_id == workspace_id)
        .order_by(Snapshot.created_at, Snapshot.id)
    )
    return list((await db.execute(query)).scalars())


async def bytes_for_account(db: AsyncSession, account_id: str) -> int:
    """Recorded bytes of every snapshot of the account (copies in flight count as 0)."""
    query = select(func.coalesce(func.sum(Snapshot.size_bytes), 0)).where(Snapshot.account_id == account_id)
    return int((await db.execute(query)).scalar_one() or 0)


async def set_size(db: AsyncSession, snap: Snapshot, size_bytes: int) -> None:
    snap.size_bytes = size_bytes
    await db.flush()


async def remove(db: AsyncSession, snap: Snapshot) -> None:
    await db.delete(snap)
    await db.flush()


async def remove_for_workspace(db: AsyncSession, workspace_id: str) -> None:
    await db.execute(delete(Snapshot).where(Snapshot.workspace_id == workspace_id))
