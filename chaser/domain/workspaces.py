"""Workspaces: named persistent disks, at most one live session each.

Create: insert the row (names clash early, before any disk exists), then create the disk on the
host; a host failure removes the row again. Delete: stop the live session if forced, delete the
disk, then the row, so a failed host call never leaves a row without a disk.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import ChaserError, InvalidField, WorkspaceBusy, WorkspaceNotFound
from chaser.domain.host import Host, host_errors
from chaser.domain.names import generate_workspace_name, is_uuid, validate_name
from chaser.domain.principal import Principal
from chaser.host.client import HostError
from chaser.host.client import HostUnavailable as ClientUnavailable
from chaser.host.wire import DiskSpec
from chaser.store import sessions as session_store
from chaser.store import workspaces as ws_store
from chaser.store.models import Workspace, new_id

SESSION_TYPES = ("sandbox", "browser")
KNOWN_IMAGES: tuple[str, ...] = ("base",)


def check_image(field: str, image: str | None) -> None:
    if image is not None and image not in KNOWN_IMAGES:
        raise InvalidField(
            f"{field}: unknown image {image!r}; available images: {', '.join(KNOWN_IMAGES)} "
            "(OCI references are not supported on this server yet)"
        )


async def resolve(db: AsyncSession, who: Principal, selector: str) -> Workspace:
    """A workspace of the active account by UUID or case-insensitive name."""
    ws = None
    if is_uuid(selector):
        ws = await ws_store.get(db, who.account_id, selector.lower())
    if ws is None:
        ws = await ws_store.get_by_name(db, who.account_id, selector)
    if ws is None:
        raise WorkspaceNotFound(f"no workspace {selector!r} in this account")
    return ws


async def create(
    db: AsyncSession,
    host: Host,
    who: Principal,
    *,
    size_bytes: int,
    name: str | None = None,
    session_type: str = "sandbox",
    image: str | None = None,
    template: bool = False,
) -> Workspace:
    if session_type not in SESSION_TYPES:
        raise InvalidField("session_type: must be 'sandbox' or 'browser'")
    if session_type == "browser" and image is not None:
        raise InvalidField("image: browser workspaces don't take an image")
    check_image("image", image)
    name = validate_name("name", name) if name is not None else generate_workspace_name()
    ws = Workspace(
        id=new_id(),
        account_id=who.account_id,
        name=name,
        session_type=session_type,
        image=image,
        template=template,
        disk_id=f"ws-{new_id()}",
    )
    await ws_store.create(db, ws)
    await db.commit()
    try:
        with host_errors("disk create"):
            await host.client.create_disk(DiskSpec(disk_id=ws.disk_id, size_bytes=size_bytes))
    except ChaserError:
        await ws_store.delete(db, ws)
        await db.commit()
        raise
    return ws


async def get(db: AsyncSession, who: Principal, selector: str) -> Workspace:
    ws = await resolve(db, who, selector)
    await db.commit()
    return ws


async def list_workspaces(
    db: AsyncSession, who: Principal, limit: int, offset: int
) -> tuple[list[Workspace], int]:
    page = await ws_store.list_for(db, who.account_id, limit, offset)
    await db.commit()
    return page


async def disk_sizes(host: Host, workspaces: list[Workspace]) -> dict[str, int]:
    """Real allocated bytes per disk id; best effort (empty when the host can't say)."""
    if not workspaces:
        return {}
    try:
        if len(workspaces) == 1:
            disk = await host.fast.get_disk(workspaces[0].disk_id)
            return {disk.disk_id: disk.allocated_bytes}
        return {d.disk_id: d.allocated_bytes for d in await host.fast.list_disks()}
    except (ClientUnavailable, HostError):
        return {}


async def rename(db: AsyncSession, who: Principal, selector: str, name: str) -> Workspace:
    ws = await resolve(db, who, selector)
    validate_name("name", name)
    await ws_store.rename(db, ws, name)
    await db.commit()
    return ws


async def set_template(db: AsyncSession, who: Principal, selector: str, template: bool) -> Workspace:
    ws = await resolve(db, who, selector)
    ws.template = template
    await db.commit()
    return ws


async def delete(db: AsyncSession, host: Host, who: Principal, selector: str, *, force: bool) -> Workspace:
    """Delete the workspace and its disk. A live session → `workspace_busy`, unless `force`
    (then the session is terminated with reason `workspace_deleted` first)."""
    from chaser.domain import sessions  # sessions imports this module

    ws = await resolve(db, who, selector)
    live = await session_store.list_live_in_workspaces(db, who.account_id, [ws.id])
    if live and not force:
        raise WorkspaceBusy(
            f"workspace {ws.name!r} has a live session ({live[0].id}); terminate it or pass force=true"
        )
    for s in live:
        await sessions.stop_and_mark(db, host, s, "workspace_deleted")
    await db.commit()
    with host_errors("disk delete"):
        await host.client.delete_disk(ws.disk_id)
    await ws_store.delete(db, ws)
    await db.commit()
    return ws
