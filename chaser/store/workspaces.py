"""Workspaces and the lease that keeps a workspace disk on at most one VM.

The lease is `workspaces.active_session_id`. It is only ever taken by a conditional UPDATE
(`... WHERE active_session_id IS NULL`) and released by one that names the holder, so two
concurrent creates can never both win, on SQLite or PostgreSQL, without explicit locks.
"""

from __future__ import annotations

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import NameTaken
from chaser.store._integrity import conflict_as
from chaser.store.models import AccountDefault, Snapshot, Workspace


def _taken(name: str) -> NameTaken:
    return NameTaken(f"name: a workspace named {name!r} already exists in this account")


async def create(db: AsyncSession, ws: Workspace) -> Workspace:
    ws.name_lower = ws.name.lower()
    async with conflict_as(db, _taken(ws.name)):
        db.add(ws)
    return ws


async def get(db: AsyncSession, account_id: str, ws_id: str) -> Workspace | None:
    ws = await db.get(Workspace, ws_id)
    return ws if ws is not None and ws.account_id == account_id else None


async def get_by_name(db: AsyncSession, account_id: str, name: str) -> Workspace | None:
    query = select(Workspace).where(Workspace.account_id == account_id, Workspace.name_lower == name.lower())
    return (await db.execute(query)).scalar_one_or_none()


async def get_any(db: AsyncSession, ws_id: str) -> Workspace | None:
    return await db.get(Workspace, ws_id)


async def list_for(db: AsyncSession, account_id: str, limit: int, offset: int) -> tuple[list[Workspace], int]:
    where = Workspace.account_id == account_id
    total = (await db.execute(select(func.count()).select_from(Workspace).where(where))).scalar_one()
    query = select(Workspace).where(where).order_by(Workspace.created_at.desc(), Workspace.id)
    return list((await db.execute(query.limit(limit).offset(offset))).scalars()), int(total)


async def rename(db: AsyncSession, ws: Workspace, name: str) -> None:
    async with conflict_as(db, _taken(name)):
        ws.name = name
        ws.name_lower = name.lower()


async def delete(db: AsyncSession, ws: Workspace) -> None:
    """The row, its snapshot rows and any default pointing at it (explicitly: the foreign keys
    cascade too, but not every SQLite connection enforces them)."""
    await db.execute(sql_delete(Snapshot).where(Snapshot.workspace_id == ws.id))
    await clear_defaults_of(db, ws.id)
    await db.delete(ws)
    await db.flush()


async def take_lease(db: AsyncSession, ws_id: str, session_id: str) -> bool:
    """Attach `session_id` to the workspace if nothing else holds it. True when taken."""
    result = await db.execute(
        update(Workspace)
        .where(Workspace.id == ws_id, Workspace.active_session_id.is_(None))
        .values(active_session_id=session_id, last_session_id=session_id)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def release_lease(db: AsyncSession, ws_id: str, session_id: str) -> None:
    """Detach `session_id`; a no-op when another session (or none) holds the lease."""
    await db.execute(
        update(Workspace)
        .where(Workspace.id == ws_id, Workspace.active_session_id == session_id)
        .values(active_session_id=None)
        .execution_options(synchronize_session=False)
    )


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


async def list_all_for(db: AsyncSession, account_id: str) -> list[Workspace]:
    return list((await db.execute(select(Workspace).where(Workspace.account_id == account_id))).scalars())


async def list_in_state(db: AsyncSession, state: str) -> list[Workspace]:
    return list((await db.execute(select(Workspace).where(Workspace.state == state))).scalars())


# ---- the account's default workspace per session type


async def get_default(db: AsyncSession, account_id: str, session_type: str) -> Workspace | None:
    row = await db.get(AccountDefault, (account_id, session_type))
    return None if row is None else await get(db, account_id, row.workspace_id)


async def default_ids(db: AsyncSession, account_id: str) -> set[str]:
    query = select(AccountDefault.workspace_id).where(AccountDefault.account_id == account_id)
    return set((await db.execute(query)).scalars())


async def set_default(db: AsyncSession, account_id: str, session_type: str, workspace_id: str | None) -> None:
    """Point the default at `workspace_id`, or clear it (None)."""
    await db.execute(
        sql_delete(AccountDefault).where(
            AccountDefault.account_id == account_id, AccountDefault.session_type == session_type
        )
    )
    if workspace_id is not None:
        db.add(AccountDefault(account_id=account_id, session_type=session_type, workspace_id=workspace_id))
    await db.flush()


async def clear_defaults_of(db: AsyncSession, workspace_id: str) -> None:
    await db.execute(sql_delete(AccountDefault).where(AccountDefault.workspace_id == workspace_id))
