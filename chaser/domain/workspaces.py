"""Workspaces: named persistent disks, at most one live session each.

Create: insert the row (names clash early, before any disk exists), then create (or clone) the
disk on the host; a host failure or a quota refusal removes the disk and the row again, so
nothing is half-made. Delete: stop the live session if forced, delete the disk (the host drops
its snapshots with it), then the rows (workspace, snapshots, default pointers), so a failed host
call never leaves a row without a disk.
"""

from __future__ import annotations

import contextlib
import re

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain import quotas
from chaser.domain.errors import InvalidField, InvalidRequest, WorkspaceBusy, WorkspaceNotFound
from chaser.domain.host import Host, host_errors
from chaser.domain.names import generate_workspace_name, is_uuid, validate_name
from chaser.domain.principal import Principal
from chaser.domain.quotas import StoragePolicy
from chaser.host.client import HostError
from chaser.host.client import HostUnavailable as ClientUnavailable
from chaser.host.wire import DiskInfo, DiskSpec
from chaser.store import sessions as session_store
from chaser.store import workspaces as ws_store
from chaser.store.models import Session, Workspace, new_id

SESSION_TYPES = ("sandbox", "browser")
LOCAL_IMAGES: tuple[str, ...] = ("base",)
# An OCI reference: [registry[:port]/]repository[:tag][@sha256:<64 hex>] (lowercase repository).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
OCI_REFERENCE = re.compile(
    rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)
# Names `/v1/workspaces/{ws}` can't tell from a route of their own.
RESERVED_NAMES = ("default", "import")


def check_image(field: str, image: str | None) -> None:
    """`base` (the local image) or an OCI reference the host pulls and caches."""
    if image is None or image in LOCAL_IMAGES:
        return
    if len(image) > 512 or not OCI_REFERENCE.fullmatch(image):
        raise InvalidField(
            f"{field}: {image!r} is neither a local image ({', '.join(LOCAL_IMAGES)}) nor an OCI "
            "reference such as `docker.io/library/python:3.12` or `ghcr.io/o/r@sha256:<digest>`"
        )


def check_name(field: str, name: str) -> str:
    validate_name(field, name)
    if name.lower() in RESERVED_NAMES:
        raise InvalidField(f"{field}: {name!r} is reserved (it names a route under /v1/workspaces)")
    return name


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


async def live_sessions(db: AsyncSession, ws: Workspace) -> list[Session]:
    return await session_store.list_live_in_workspaces(db, ws.account_id, [ws.id])


def require_ready(ws: Workspace, action: str) -> None:
    """An importing workspace's disk belongs to the import until it ends."""
    if ws.state == "importing":
        raise WorkspaceBusy(f"workspace {ws.name!r} is still importing; {action} once its status is `idle`")


async def create(
    db: AsyncSession,
    host: Host,
    who: Principal,
    policy: StoragePolicy,
    *,
    name: str | None = None,
    session_type: str | None = None,
    image: str | None = None,
    template: bool = False,
    state: str = "ready",
    github: tuple[str, str | None, str | None] | None = None,
) -> Workspace:
    """A fresh, empty disk. `github` (repo, ref, sealed token) is the import's selector."""
    session_type = session_type or "sandbox"
    if session_type not in SESSION_TYPES:
        raise InvalidField("session_type: must be 'sandbox' or 'browser'")
    if session_type == "browser" and image is not None:
        raise InvalidField("image: browser workspaces don't take an image")
    check_image("image", image)
    name = check_name("name", name) if name is not None else generate_workspace_name()
    usage = await quotas.account_usage(db, host, who.account_id)
    quotas.check_account(policy, usage, 0, "workspace create")
    ws = Workspace(
        id=new_id(),
        account_id=who.account_id,
        name=name,
        session_type=session_type,
        image=image,
        template=template,
        disk_id=f"ws-{new_id()}",
        state=state,
    )
    if github is not None:
        ws.github_repo, ws.github_ref, ws.github_token_sealed = github
    await ws_store.create(db, ws)
    await db.commit()
    try:
        with host_errors("disk create"):
            disk = await host.client.create_disk(
                DiskSpec(disk_id=ws.disk_id, size_bytes=policy.disk_size_bytes)
            )
        _check_new_disk(policy, usage, disk, "workspace create")
    except BaseException:
        await _undo_create(db, host, ws)
        raise
    return ws


async def clone(
    db: AsyncSession,
    host: Host,
    who: Principal,
    policy: StoragePolicy,
    source: str,
    *,
    name: str | None = None,
    session_type: str | None = None,
    image: str | None = None,
    template: bool = False,
) -> Workspace:
    """A new workspace with the source's files and metadata (session_type, image, import
    selector), independent of it afterwards. Refused while the source has a live session."""
    src = await resolve(db, who, source)
    if session_type is not None and session_type != src.session_type:
        raise InvalidField(
            f"session_type: a clone inherits {src.session_type!r} from {src.name!r}; drop session_type"
        )
    if image is not None and image != src.image:
        raise InvalidField(f"image: a clone inherits the image of {src.name!r}; drop image")
    require_ready(src, "clone it")
    name = check_name("name", name) if name is not None else generate_workspace_name()
    await _refuse_live(db, src, "cloned")
    usage = await quotas.account_usage(db, host, who.account_id)
    src_bytes = usage.disks.get(src.disk_id, 0)
    quotas.check_workspace(policy, src_bytes, "clone")
    quotas.check_account(policy, usage, src_bytes, "clone")
    ws = Workspace(
        id=new_id(),
        account_id=who.account_id,
        name=name,
        session_type=src.session_type,
        image=src.image,
        template=template,
        github_repo=src.github_repo,
        github_ref=src.github_ref,
        github_token_sealed=src.github_token_sealed,
        source_workspace_id=src.id,
        disk_id=f"ws-{new_id()}",
    )
    await ws_store.create(db, ws)
    await db.commit()
    try:
        with host_errors("disk clone"):
            disk = await host.client.clone_disk(src.disk_id, ws.disk_id, force=False)
        _check_new_disk(policy, usage, disk, "clone")
    except BaseException:
        await _undo_create(db, host, ws)
        raise
    return ws


def _check_new_disk(policy: StoragePolicy, before: quotas.Usage, disk: DiskInfo, what: str) -> None:
    quotas.check_workspace(policy, disk.allocated_bytes, what)
    quotas.check_account(policy, before, disk.allocated_bytes, what)


async def _undo_create(db: AsyncSession, host: Host, ws: Workspace) -> None:
    """Remove what a refused or failed create made (disk first, then the row)."""
    with contextlib.suppress(ClientUnavailable, HostError):
        await host.client.delete_disk(ws.disk_id)
    await db.rollback()
    await ws_store.delete(db, ws)
    await db.commit()


async def _refuse_live(db: AsyncSession, ws: Workspace, what: str) -> None:
    live = await live_sessions(db, ws)
    await db.commit()
    if live:
        raise WorkspaceBusy(
            f"workspace {ws.name!r} has a live session ({live[0].id}) and can't be {what}; "
            "terminate the session first"
        )


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


async def default_ids(db: AsyncSession, who: Principal) -> set[str]:
    ids = await ws_store.default_ids(db, who.account_id)
    await db.commit()
    return ids


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
    check_name("name", name)
    await ws_store.rename(db, ws, name)
    await db.commit()
    return ws


async def set_template(db: AsyncSession, who: Principal, selector: str, template: bool) -> Workspace:
    ws = await resolve(db, who, selector)
    ws.template = template
    await db.commit()
    return ws


async def set_default(
    db: AsyncSession, who: Principal, session_type: str, selector: str | None
) -> Workspace | None:
    """Make the workspace the account's default for `session_type` (None clears it)."""
    if session_type not in SESSION_TYPES:
        raise InvalidField("session_type: must be 'sandbox' or 'browser'")
    ws = await resolve(db, who, selector) if selector is not None else None
    if ws is not None and ws.session_type != session_type:
        raise InvalidField(
            f"session_type: workspace {ws.name!r} is a {ws.session_type} workspace, "
            f"it can't be the default {session_type} workspace"
        )
    await ws_store.set_default(db, who.account_id, session_type, ws.id if ws else None)
    await db.commit()
    return ws


async def default_for(db: AsyncSession, who: Principal, session_type: str) -> Workspace:
    """The account's default workspace for `session_type`, or 400 naming the ways out."""
    ws = await ws_store.get_default(db, who.account_id, session_type)
    await db.commit()
    if ws is None:
        raise InvalidRequest(
            f"no workspace given and the account has no default {session_type} workspace: pass "
            "`workspace`, or `ephemeral: true`, or set a default with PUT /v1/workspaces/default "
            f'{{"workspace": "<name>", "session_type": "{session_type}"}} '
            "(CLI: chaser workspaces default set <name>)"
        )
    return ws


async def delete(db: AsyncSession, host: Host, who: Principal, selector: str, *, force: bool) -> Workspace:
    """Delete the workspace, its snapshots and its disk. A live session → `workspace_busy`,
    unless `force` (then the session is terminated with reason `workspace_deleted` first)."""
    from chaser.domain import sessions  # sessions imports this module

    ws = await resolve(db, who, selector)
    live = await live_sessions(db, ws)
    if live and not force:
        raise WorkspaceBusy(
            f"workspace {ws.name!r} has a live session ({live[0].id}); terminate it or pass force=true"
        )
    if ws.state == "importing" and not force:
        raise WorkspaceBusy(f"workspace {ws.name!r} is still importing; wait, or pass force=true")
    for s in live:
        await sessions.stop_and_mark(db, host, s, "workspace_deleted")
    await db.commit()
    with host_errors("disk delete"):
        await host.client.delete_disk(ws.disk_id)
    await ws_store.delete(db, ws)
    await db.commit()
    return ws
