from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request

from chaser.api.deps import Db, HostDep, Paging, PolicyDep, Requires
from chaser.api.schemas.common import Deleted, Page
from chaser.api.schemas.workspaces import (
    DefaultOut,
    DefaultSet,
    WorkspaceCreate,
    WorkspaceImport,
    WorkspaceOut,
    WorkspaceRename,
    WorkspaceTemplate,
)
from chaser.domain import imports, workspaces
from chaser.domain.principal import Principal
from chaser.store.models import Workspace

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])

Reader = Annotated[Principal, Requires("workspaces.read")]
Writer = Annotated[Principal, Requires("workspaces.write")]


async def workspace_out(db: Db, host: HostDep, who: Principal, ws: Workspace) -> WorkspaceOut:
    defaults = await workspaces.default_ids(db, who)
    return WorkspaceOut.of(ws, await workspaces.disk_sizes(host, [ws]), defaults)


@router.post("", status_code=201)
async def create(
    body: WorkspaceCreate, who: Writer, db: Db, host: HostDep, policy: PolicyDep
) -> WorkspaceOut:
    """A fresh workspace (an empty disk), or with `clone_from` a copy of another one: its files
    and metadata (`session_type`, `image`, import selector), independent afterwards. Refused with
    403 `quota_exceeded` when the storage quota would be exceeded (nothing is left behind)."""
    if body.clone_from is not None:
        ws = await workspaces.clone(
            db,
            host,
            who,
            policy,
            body.clone_from,
            name=body.name,
            session_type=body.session_type,
            image=body.image,
            template=body.template,
        )
    else:
        ws = await workspaces.create(
            db,
            host,
            who,
            policy,
            name=body.name,
            session_type=body.session_type,
            image=body.image,
            template=body.template,
        )
    return await workspace_out(db, host, who, ws)


@router.post("/import", status_code=202)
async def import_(
    body: WorkspaceImport, who: Writer, db: Db, host: HostDep, policy: PolicyDep, request: Request
) -> WorkspaceOut:
    """Clone a git repository into `/workspace` of a new sandbox workspace. Answers 202 at once
    with `status: "importing"`; poll `GET /v1/workspaces/{ws}` until `idle` or `import_failed`
    (`status_message` says why)."""
    ws = await imports.start(
        db,
        host,
        who,
        policy,
        github_repo=body.github_repo,
        ref=body.ref,
        name=body.name,
        token=body.token,
        image=body.image,
    )
    state = request.app.state
    task = asyncio.create_task(imports.run(state.sessionmaker, host, policy, ws.id, body.token))
    state.background_tasks.add(task)
    task.add_done_callback(state.background_tasks.discard)
    return await workspace_out(db, host, who, ws)


@router.put("/default")
async def set_default(body: DefaultSet, who: Writer, db: Db, host: HostDep) -> DefaultOut:
    """The account's default workspace for a session type (`/v1/exec` and the CLI use the
    sandbox one when no workspace is named). `workspace: null` clears it."""
    ws = await workspaces.set_default(db, who, body.session_type, body.workspace)
    out = await workspace_out(db, host, who, ws) if ws is not None else None
    return DefaultOut(session_type=body.session_type, workspace=out)


@router.get("")
async def list_(who: Reader, db: Db, host: HostDep, page: Paging) -> Page[WorkspaceOut]:
    rows, total = await workspaces.list_workspaces(db, who, page.limit, page.offset)
    sizes = await workspaces.disk_sizes(host, rows)
    defaults = await workspaces.default_ids(db, who)
    return Page(
        data=[WorkspaceOut.of(ws, sizes, defaults) for ws in rows],
        count=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{ws}")
async def get(ws: str, who: Reader, db: Db, host: HostDep) -> WorkspaceOut:
    """`{ws}` is a name (case-insensitive) or an id."""
    return await workspace_out(db, host, who, await workspaces.get(db, who, ws))


@router.delete("/{ws}")
async def delete(
    ws: str,
    who: Writer,
    db: Db,
    host: HostDep,
    force: Annotated[bool, Query(description="Terminate the live session first")] = False,
) -> Deleted:
    """Deletes the workspace's disk and all its snapshots."""
    gone = await workspaces.delete(db, host, who, ws, force=force)
    return Deleted(id=gone.id)


@router.put("/{ws}/name")
async def rename(ws: str, body: WorkspaceRename, who: Writer, db: Db, host: HostDep) -> WorkspaceOut:
    return await workspace_out(db, host, who, await workspaces.rename(db, who, ws, body.name))


@router.put("/{ws}/template")
async def set_template(ws: str, body: WorkspaceTemplate, who: Writer, db: Db, host: HostDep) -> WorkspaceOut:
    return await workspace_out(db, host, who, await workspaces.set_template(db, who, ws, body.template))
