from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from chaser.api.deps import Db, HostDep, LeasesDep, PolicyDep, Requires
from chaser.api.routes.workspaces import workspace_out
from chaser.api.schemas.common import Deleted
from chaser.api.schemas.workspaces import RestoreOut, SnapshotCreate, SnapshotList, SnapshotOut
from chaser.domain import snapshots
from chaser.domain.principal import Principal

router = APIRouter(prefix="/v1/workspaces/{ws}/snapshots", tags=["snapshots"])

Reader = Annotated[Principal, Requires("workspaces.read")]
Writer = Annotated[Principal, Requires("workspaces.write")]


@router.post("", status_code=201)
async def create(
    ws: str,
    body: SnapshotCreate,
    who: Writer,
    db: Db,
    host: HostDep,
    policy: PolicyDep,
    force: Annotated[
        bool,
        Query(description="Snapshot a workspace with a live session (its filesystem is frozen for the copy)"),
    ] = False,
) -> SnapshotOut:
    """A restore point of the workspace's disk (files, not RAM). With a live session: 409
    `workspace_busy` unless `force=true`. Over the storage quota: 403 `quota_exceeded`."""
    _, snap = await snapshots.create(db, host, who, policy, ws, body.name, force=force)
    return SnapshotOut.of(snap)


@router.get("")
async def list_(ws: str, who: Reader, db: Db) -> SnapshotList:
    _, rows = await snapshots.list_snapshots(db, who, ws)
    return SnapshotList(data=[SnapshotOut.of(s) for s in rows], count=len(rows))


@router.get("/{snap}")
async def get(ws: str, snap: str, who: Reader, db: Db) -> SnapshotOut:
    """`{snap}` is the snapshot's name (case-insensitive) or id."""
    return SnapshotOut.of(await snapshots.get(db, who, ws, snap))


@router.post("/{snap}/restore")
async def restore(
    ws: str,
    snap: str,
    who: Writer,
    db: Db,
    host: HostDep,
    leases: LeasesDep,
    force: Annotated[bool, Query(description="Terminate the live session first")] = False,
) -> RestoreOut:
    """Put the snapshot back as the workspace's disk. With a live session: 409 `workspace_busy`
    unless `force=true` (the session is terminated first, reason `workspace_restored`)."""
    done = await snapshots.restore(db, host, who, ws, snap, force=force, leases=leases)
    return RestoreOut(
        workspace=await workspace_out(db, host, who, done.workspace),
        snapshot=SnapshotOut.of(done.snapshot),
        terminated_session_ids=done.terminated_session_ids,
    )


@router.delete("/{snap}")
async def delete(ws: str, snap: str, who: Writer, db: Db, host: HostDep) -> Deleted:
    gone = await snapshots.delete(db, host, who, ws, snap)
    return Deleted(id=gone.id)
