"""The control plane's background view of the host: dead VMs, timeouts, orphans, and the
clean-up after a crash. The API's reads reconcile single sessions on the fly (see sessions.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chaser.domain import sessions
from chaser.domain.errors import ChaserError
from chaser.domain.host import Host
from chaser.domain.leases import Leases
from chaser.host.client import HostError
from chaser.host.client import HostUnavailable as ClientUnavailable
from chaser.host.wire import VmState
from chaser.store import sessions as session_store
from chaser.store.models import utcnow

log = logging.getLogger("chaser.reconcile")


async def recover_interrupted(sessionmaker: async_sessionmaker[AsyncSession], host: Host) -> int:
    """At start-up: sessions left `creating` by a previous process will never finish. Stop their
    VM (best effort; the orphan sweep catches it later otherwise) and terminate them."""
    async with sessionmaker() as db:
        stuck = await session_store.list_with_status(db, ["creating"])
        await db.commit()
        for s in stuck:
            await sessions.settle(db, host, s, "create_interrupted")
    return len(stuck)


async def reconcile_once(sessionmaker: async_sessionmaker[AsyncSession], host: Host) -> None:
    # List VMs *before* reading sessions: a VM is only created after its `creating` row was
    # committed, so every VM in this list has its row visible to the query below.
    try:
        vms = {v.vm_id: v for v in await host.fast.list_vms()}
    except (ClientUnavailable, HostError):
        return
    async with sessionmaker() as db:
        live = await session_store.list_with_status(db, session_store.LIVE)
        await db.commit()
        now = utcnow()
        for s in live:
            if s.status != "running":
                continue
            if s.timeout_s and now - s.created_at > timedelta(seconds=s.timeout_s):
                with contextlib.suppress(ChaserError):
                    await sessions.stop_and_mark(db, host, s, "timeout")
                continue
            vm = vms.get(s.host_vm_id or s.id)
            if vm is None or vm.state == VmState.STOPPED:
                await sessions.reconcile(db, host, s)
        known = {s.host_vm_id or s.id for s in live} | {s.id for s in live}
        for vm_id in vms:
            if vm_id in known:
                continue
            row = await session_store.get_any(db, vm_id, refresh=True)
            await db.commit()
            if row is None or row.status == "terminated":
                log.info("destroying orphan VM %s (no live session)", vm_id)
                with contextlib.suppress(ClientUnavailable, HostError):
                    await host.client.stop_vm(vm_id)


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    host: Host,
    interval_s: float,
    leases: Leases | None = None,
) -> None:
    while True:
        try:
            await reconcile_once(sessionmaker, host)
            if leases is not None:
                reaped = await leases.reap_stale()
                if reaped:
                    log.warning("reaped %d stale connection lease(s)", reaped)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("reconcile pass failed")
        await asyncio.sleep(interval_s)
