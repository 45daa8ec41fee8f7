"""Snapshots: restore points of a workspace disk (disk state, never RAM).

- create: refused with `workspace_busy` while a session is attached unless `force`; with force the
  host syncs the guest and freezes the filesystem for the instant of the copy, so the snapshot
  is a clean filesystem. The row is written first (the name clashes early), the copy made, then
  its real size recorded; a host failure or a quota refusal removes both again.
- restore: the disk must be detached. With a live session and `force`, the session is terminated
  first (reason `workspace_restored`), its streams closed.
- delete: never blocked (it does not touch the disk).
`{snap}` is the snapshot's name (case-insensitive, unique within its workspace) or id.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain import quotas
from chaser.domain.errors import SnapshotNotFound, WorkspaceBusy
from chaser.domain.host import Host, host_errors
from chaser.domain.leases import Leases
from chaser.domain.names import is_uuid, validate_name
from chaser.domain.principal import Principal
from chaser.domain.quotas import StoragePolicy
from chaser.domain.workspaces import live_sessions, require_ready, resolve
from chaser.host.client import HostError
from chaser.host.client import HostUnavailable as ClientUnavailable
from chaser.store import snapshots as snap_store
from chaser.store.models import Snapshot, Workspace, new_id


async def resolve_snapshot(db: AsyncSession, ws: Workspace, selector: str) -> Snapshot:
    snap = None
    if is_uuid(selector):
        snap = await snap_store.get(db, ws.id, selector.lower())
    if snap is None:
        snap = await snap_store.get_by_name(db, ws.id, selector)
    if snap is None:
        raise SnapshotNotFound(f"workspace {ws.name!r} has no snapshot {selector!r}")
    return snap


async def create(
    db: AsyncSession,
    host: Host,
    who: Principal,
    policy: StoragePolicy,
    ws_selector: str,
    name: str | None,
    *,
    force: bool,
) -> tuple[Workspace, Snapshot]:
    ws = await resolve(db, who, ws_selector)
    require_ready(ws, "snapshot it")
    name = validate_name("name", name) if name is not None else f"snap-{secrets.token_hex(4)}"
    live = await live_sessions(db, ws)
    await db.commit()
    if live and not force:
        raise WorkspaceBusy(
            f"workspace {ws.name!r} has a live session ({live[0].id}); pass force=true to snapshot it "
            "anyway (its filesystem is frozen for the instant of the copy)"
        )
    usage = await quotas.account_usage(db, host, who.account_id)
    quotas.check_account(policy, usage, usage.disks.get(ws.disk_id, 0), "snapshot")
    snap_id = new_id()
    snap = Snapshot(
        id=snap_id,
        workspace_id=ws.id,
        account_id=ws.account_id,
        name=name,
        host_snapshot_id=f"snap-{snap_id}",
    )
    await snap_store.create(db, snap)
    await db.commit()
    try:
        with host_errors("snapshot"):
            info = await host.client.create_snapshot(ws.disk_id, snap.host_snapshot_id, force=force)
        quotas.check_account(policy, usage, info.allocated_bytes, "snapshot")
    except BaseException:
        with contextlib.suppress(ClientUnavailable, HostError):
            await host.client.delete_snapshot(ws.disk_id, snap.host_snapshot_id)
        await db.rollback()
        await snap_store.remove(db, snap)
        await db.commit()
        raise
    await snap_store.set_size(db, snap, info.allocated_bytes)
    await db.commit()
    return ws, snap


async def list_snapshots(
    db: AsyncSession, who: Principal, ws_selector: str
) -> tuple[Workspace, list[Snapshot]]:
    ws = await resolve(db, who, ws_selector)
    rows = await snap_store.list_for(db, ws.id)
    await db.commit()
    return ws, rows


async def get(db: AsyncSession, who: Principal, ws_selector: str, selector: str) -> Snapshot:
    ws = await resolve(db, who, ws_selector)
    snap = await resolve_snapshot(db, ws, selector)
    await db.commit()
    return snap


@dataclass
class Restored:
    workspace: Workspace
    snapshot: Snapshot
    terminated_session_ids: list[str] = field(default_factory=list)


async def restore(
    db: AsyncSession,
    host: Host,
    who: Principal,
    ws_selector: str,
    selector: str,
    *,
    force: bool,
    leases: Leases | None = None,
) -> Restored:
    from chaser.domain import sessions  # sessions imports workspaces, which this module imports

    ws = await resolve(db, who, ws_selector)
    require_ready(ws, "restore it")
    snap = await resolve_snapshot(db, ws, selector)
    live = await live_sessions(db, ws)
    await db.commit()
    if live and not force:
        raise WorkspaceBusy(
            f"workspace {ws.name!r} has a live session ({live[0].id}); pass force=true to terminate it "
            "and restore"
        )
    done = Restored(workspace=ws, snapshot=snap)
    for s in live:
        if leases is not None:
            leases.close_session(s.id)
        await sessions.stop_and_mark(db, host, s, "workspace_restored")
        done.terminated_session_ids.append(s.id)
    with host_errors("snapshot restore"):
        await host.client.restore_snapshot(ws.disk_id, snap.host_snapshot_id)
    await db.refresh(ws)
    await db.commit()
    return done


async def delete(db: AsyncSession, host: Host, who: Principal, ws_selector: str, selector: str) -> Snapshot:
    ws = await resolve(db, who, ws_selector)
    snap = await resolve_snapshot(db, ws, selector)
    await db.commit()
    with host_errors("snapshot delete"):
        await host.client.delete_snapshot(ws.disk_id, snap.host_snapshot_id)
    await snap_store.remove(db, snap)
    await db.commit()
    return snap
