"""Workspace storage routes: snapshots, restore, clone, git import (see `chaser.host.storage`).

POST   /disks/{id}/snapshots                {snapshot_id, force}  -> SnapshotInfo
GET    /disks/{id}/snapshots                                      -> [SnapshotInfo]
GET    /disks/{id}/snapshots/{sid}                                -> SnapshotInfo
POST   /disks/{id}/snapshots/{sid}/restore                        -> DiskInfo (409 disk_busy if attached)
DELETE /disks/{id}/snapshots/{sid}                                -> 204 (idempotent)
POST   /disks/{id}/clone                    {disk_id, force}      -> DiskInfo of the new disk
POST   /disks/{id}/import-git               {url, ref, token}     -> GitImportResult
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.datastructures import State

from chaser.host.storage.copy import reflink_works
from chaser.host.storage.git_import import DEFAULT_GIT_BASE_URL, import_git
from chaser.host.storage.pool import Storage
from chaser.host.storage.snapshots import Snapshots
from chaser.host.vms import VmManager
from chaser.host.wire import CloneSpec, DiskInfo, GitImportResult, GitImportSpec, SnapshotInfo, SnapshotSpec

router = APIRouter(prefix="/disks", tags=["storage"])


def storage_of(state: State) -> Storage:
    """The daemon sets `app.state.storage` at start; an app built without it probes once."""
    storage: Storage | None = getattr(state, "storage", None)
    if storage is None:
        layout = state.vms.layout
        (layout.root / "snapshots").mkdir(parents=True, exist_ok=True)
        reflink = reflink_works(layout.disks)
        storage = Storage(layout.disks, layout.root / "snapshots", reflink, "native" if reflink else "plain")
        state.storage = storage
    return storage


def _snapshots(request: Request) -> Snapshots:
    vms: VmManager = request.app.state.vms
    return Snapshots(storage_of(request.app.state), vms)


@router.post("/{disk_id}/snapshots")
async def create_snapshot(disk_id: str, spec: SnapshotSpec, request: Request) -> SnapshotInfo:
    return await _snapshots(request).create(disk_id, spec.snapshot_id, force=spec.force)


@router.get("/{disk_id}/snapshots")
async def list_snapshots(disk_id: str, request: Request) -> list[SnapshotInfo]:
    return _snapshots(request).list(disk_id)


@router.get("/{disk_id}/snapshots/{snapshot_id}")
async def get_snapshot(disk_id: str, snapshot_id: str, request: Request) -> SnapshotInfo:
    return _snapshots(request).info(disk_id, snapshot_id)


@router.post("/{disk_id}/snapshots/{snapshot_id}/restore")
async def restore_snapshot(disk_id: str, snapshot_id: str, request: Request) -> DiskInfo:
    return await _snapshots(request).restore(disk_id, snapshot_id)


@router.delete("/{disk_id}/snapshots/{snapshot_id}", status_code=204)
async def delete_snapshot(disk_id: str, snapshot_id: str, request: Request) -> Response:
    await _snapshots(request).delete(disk_id, snapshot_id)
    return Response(status_code=204)


@router.post("/{disk_id}/clone")
async def clone_disk(disk_id: str, spec: CloneSpec, request: Request) -> DiskInfo:
    return await _snapshots(request).clone(disk_id, spec.disk_id, force=spec.force)


@router.post("/{disk_id}/import-git")
async def import_git_repo(disk_id: str, spec: GitImportSpec, request: Request) -> GitImportResult:
    base_url = getattr(request.app.state, "git_base_url", DEFAULT_GIT_BASE_URL)
    return await import_git(_snapshots(request), disk_id, spec, base_url)
