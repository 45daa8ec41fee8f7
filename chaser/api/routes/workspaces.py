from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from chaser.api.deps import Db, HostDep, Paging, Requires, SettingsDep
from chaser.api.schemas.common import Deleted, Page
from chaser.api.schemas.workspaces import WorkspaceCreate, WorkspaceOut, WorkspaceRename, WorkspaceTemplate
from chaser.domain import workspaces
from chaser.domain.principal import Principal

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])

Reader = Annotated[Principal, Requires("workspaces.read")]
Writer = Annotated[Principal, Requires("workspaces.write")]


async def _out(host: HostDep, ws: workspaces.Workspace) -> WorkspaceOut:
    return WorkspaceOut.of(ws, await workspaces.disk_sizes(host, [ws]))


@router.post("", status_code=201)
async def create(
    body: WorkspaceCreate, who: Writer, db: Db, host: HostDep, settings: SettingsDep
) -> WorkspaceOut:
    """A fresh workspace: an empty disk of the server's default size."""
    ws = await workspaces.create(
        db,
        host,
        who,
        size_bytes=settings.workspace_size_bytes,
        name=body.name,
        session_type=body.session_type,
        image=body.image,
        template=body.template,
    )
    return await _out(host, ws)


@router.get("")
async def list_(who: Reader, db: Db, host: HostDep, page: Paging) -> Page[WorkspaceOut]:
    rows, total = await workspaces.list_workspaces(db, who, page.limit, page.offset)
    sizes = await workspaces.disk_sizes(host, rows)
    return Page(
        data=[WorkspaceOut.of(ws, sizes) for ws in rows], count=total, limit=page.limit, offset=page.offset
    )


@router.get("/{ws}")
async def get(ws: str, who: Reader, db: Db, host: HostDep) -> WorkspaceOut:
    """`{ws}` is a name (case-insensitive) or an id."""
    return await _out(host, await workspaces.get(db, who, ws))


@router.delete("/{ws}")
async def delete(
    ws: str,
    who: Writer,
    db: Db,
    host: HostDep,
    force: Annotated[bool, Query(description="Terminate the live session first")] = False,
) -> Deleted:
    gone = await workspaces.delete(db, host, who, ws, force=force)
    return Deleted(id=gone.id)


@router.put("/{ws}/name")
async def rename(ws: str, body: WorkspaceRename, who: Writer, db: Db, host: HostDep) -> WorkspaceOut:
    return await _out(host, await workspaces.rename(db, who, ws, body.name))


@router.put("/{ws}/template")
async def set_template(ws: str, body: WorkspaceTemplate, who: Writer, db: Db, host: HostDep) -> WorkspaceOut:
    return await _out(host, await workspaces.set_template(db, who, ws, body.template))
