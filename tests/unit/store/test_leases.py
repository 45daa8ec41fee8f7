"""Connection leases on a real (temporary) SQLite database: the live count on the session row,
release on cancellation, and both reapers."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chaser.domain.leases import STALE_AFTER_S, Leases
from chaser.store import leases as lease_store
from chaser.store.db import make_engine, make_sessionmaker
from chaser.store.migrate import migrate
from chaser.store.models import Account, ConnectionLease, Session, new_id, utcnow

ENGINES: list[AsyncEngine] = []


async def _setup(tmp_path: Path, url: str | None = None) -> tuple[async_sessionmaker[AsyncSession], str]:
    engine = make_engine(url or f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    ENGINES.append(engine)
    await migrate(engine)
    sm = make_sessionmaker(engine)
    async with sm() as db:
        email = f"{new_id()}@example.test"
        account = Account(id=new_id(), kind="personal", name=email, name_lower=email)
        db.add(account)
        s = Session(id=new_id(), account_id=account.id, session_type="sandbox", status="running")
        db.add(s)
        await db.commit()
    return sm, s.id


async def _count_on_row(sm: async_sessionmaker[AsyncSession], session_id: str) -> int:
    async with sm() as db:
        s = await db.get(Session, session_id)
        assert s is not None
        return s.active_connection_leases


def test_hold_counts_and_releases(tmp_path: Path) -> None:
    async def main() -> None:
        sm, sid = await _setup(tmp_path)
        leases = Leases(sm)
        assert await _count_on_row(sm, sid) == 0
        async with leases.hold(sid, "pty"), leases.hold(sid, "stream"):
            assert await _count_on_row(sm, sid) == 2
            assert leases.open_count(sid) == 2
        assert await _count_on_row(sm, sid) == 0
        assert leases.open_count() == 0

    asyncio.run(_disposing(main()))


def test_released_when_the_holder_is_cancelled(tmp_path: Path) -> None:
    async def main() -> None:
        sm, sid = await _setup(tmp_path)
        leases = Leases(sm)
        entered = anyio.Event()

        async def stream() -> None:
            async with leases.hold(sid, "stream"):
                entered.set()
                await anyio.sleep_forever()

        async with anyio.create_task_group() as tg:
            tg.start_soon(stream)
            await entered.wait()
            assert await _count_on_row(sm, sid) == 1
            tg.cancel_scope.cancel()  # level-triggered anyio cancellation, like a client disconnect
        assert await _count_on_row(sm, sid) == 0

    asyncio.run(_disposing(main()))


def test_close_session_cancels_the_stream(tmp_path: Path) -> None:
    async def main() -> None:
        sm, sid = await _setup(tmp_path)
        leases = Leases(sm)
        scope = anyio.CancelScope()
        entered = anyio.Event()

        async def stream() -> None:
            async with leases.hold(sid, "pty", scope.cancel):
                with scope:
                    entered.set()
                    await anyio.sleep_forever()

        async with anyio.create_task_group() as tg:
            tg.start_soon(stream)
            await entered.wait()
            assert leases.close_session(sid) == 1
        assert await _count_on_row(sm, sid) == 0

    asyncio.run(_disposing(main()))


def test_reapers(tmp_path: Path) -> None:
    async def main() -> None:
        sm, sid = await _setup(tmp_path)
        leases = Leases(sm)
        hostname = leases.holder.split("/")[0]
        old = utcnow() - timedelta(seconds=STALE_AFTER_S + 5)
        async with sm() as db:
            # A dead process of this machine (pid 0 is never a live holder), a live one elsewhere
            # that stopped heartbeating, and a fresh one elsewhere.
            for holder, beat in (
                (f"{hostname}/999999999/dead", utcnow()),
                ("other-machine/1/x", old),
                ("other-machine/2/y", utcnow()),
            ):
                await lease_store.add(
                    db, ConnectionLease(session_id=sid, kind="tunnel", holder=holder, heartbeat_at=beat)
                )
            await db.commit()
        assert await _count_on_row(sm, sid) == 3
        assert await leases.reap_dead_holders() == 1
        assert await leases.reap_stale() == 1
        assert await _count_on_row(sm, sid) == 1
        async with leases.hold(sid, "pty") as lease_id:
            async with sm() as db:
                await db.execute(
                    update(ConnectionLease).where(ConnectionLease.id == lease_id).values(heartbeat_at=old)
                )
                await db.commit()
            assert await leases.reap_stale() == 0  # our own rows are refreshed first
            assert await _count_on_row(sm, sid) == 2

    asyncio.run(_disposing(main()))


async def _disposing(body: Coroutine[Any, Any, None]) -> None:
    """Run the test body, then dispose its engine inside the same loop (aiosqlite's worker
    thread must not outlive the loop)."""
    try:
        await body
    finally:
        while ENGINES:
            await ENGINES.pop().dispose()
