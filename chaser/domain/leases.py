"""Connection leases: every open stream into a session holds one row while it is open.

A stream is a PTY socket, a command's SSE stream, a forwarded HTTP request (while it streams), a
forwarded WebSocket or a raw port tunnel. `Leases.hold()` writes the row when the stream opens and
deletes it in a `finally` that is shielded from cancellation, so an abrupt disconnect releases it
too. The rows' holder (this server process) refreshes `heartbeat_at` every `HEARTBEAT_S`; rows of
a dead process are deleted at start-up (same machine, pid gone) and any row whose heartbeat is
older than `STALE_AFTER_S` by the reconcile loop.

The registry also lets a forced terminate close the streams of this process at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chaser.store import leases as lease_store
from chaser.store.models import ConnectionLease, new_id, utcnow

log = logging.getLogger("chaser.leases")

HEARTBEAT_S = 10.0
STALE_AFTER_S = 30.0
KINDS = ("pty", "stream", "forward", "websocket", "tunnel")


@dataclass
class _Held:
    session_id: str
    kind: str
    close: Callable[[], None]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Leases:
    """The leases this server process holds. One per app (`app.state.leases`)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._hostname = socket.gethostname()
        self.holder = f"{self._hostname}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self._open: dict[str, _Held] = {}

    @contextlib.asynccontextmanager
    async def hold(
        self, session_id: str, kind: str, close: Callable[[], None] | None = None
    ) -> AsyncIterator[str]:
        """Hold a lease for the body of the `async with`. `close` is called (synchronously) when
        a forced terminate wants the stream to end; it should cancel the stream's scope."""
        assert kind in KINDS, kind
        lease_id = new_id()
        async with self._sessionmaker() as db:
            now = utcnow()
            await lease_store.add(
                db,
                ConnectionLease(
                    id=lease_id,
                    session_id=session_id,
                    kind=kind,
                    holder=self.holder,
                    created_at=now,
                    heartbeat_at=now,
                ),
            )
            await db.commit()
        self._open[lease_id] = _Held(session_id, kind, close or (lambda: None))
        try:
            yield lease_id
        finally:
            self._open.pop(lease_id, None)
            # Shielded: the stream may end *because* its task was cancelled (client gone), and an
            # await in a cancelled scope would be cancelled again before the row is deleted.
            with anyio.CancelScope(shield=True):
                try:
                    async with self._sessionmaker() as db:
                        await lease_store.remove(db, lease_id)
                        await db.commit()
                except Exception:
                    # The heartbeat stopped for it: the reconcile loop reaps it within STALE_AFTER_S.
                    log.exception("could not release lease %s; it goes stale", lease_id)

    def close_session(self, session_id: str) -> int:
        """End every stream this process holds into the session (a forced terminate)."""
        closed = 0
        for held in list(self._open.values()):
            if held.session_id == session_id:
                with contextlib.suppress(Exception):
                    held.close()
                closed += 1
        return closed

    def open_count(self, session_id: str | None = None) -> int:
        return sum(1 for h in self._open.values() if session_id is None or h.session_id == session_id)

    async def heartbeat(self) -> None:
        ids = list(self._open)
        if not ids:
            return
        async with self._sessionmaker() as db:
            await lease_store.touch(db, ids, utcnow())
            await db.commit()

    async def heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lease heartbeat failed")

    async def reap_dead_holders(self) -> int:
        """At start-up: rows held by processes of this machine that no longer run."""
        async with self._sessionmaker() as db:
            dead: list[str] = []
            for holder in await lease_store.holders(db):
                hostname, _, rest = holder.partition("/")
                pid_text = rest.partition("/")[0]
                if hostname != self._hostname or holder == self.holder:
                    continue
                if not pid_text.isdigit() or int(pid_text) == os.getpid() or not _pid_alive(int(pid_text)):
                    dead.append(holder)
            removed = await lease_store.remove_held_by(db, dead)
            await db.commit()
        return removed

    async def reap_stale(self) -> int:
        """Rows whose holder stopped heartbeating (any machine). Our own rows are refreshed first
        so a slow heartbeat never reaps a live stream of this process."""
        await self.heartbeat()
        async with self._sessionmaker() as db:
            removed = await lease_store.remove_stale(db, utcnow() - timedelta(seconds=STALE_AFTER_S))
            await db.commit()
        return removed


async def count(db: AsyncSession, session_id: str) -> int:
    return await lease_store.count(db, session_id)
