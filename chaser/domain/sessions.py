"""Sessions: create, get, list, terminate — and reconcile with what the host really runs.

States: `creating` → `running` → `terminated`. Every transition is a conditional UPDATE in
`chaser.store.sessions`, so the first writer wins and later ones see False. No database
transaction is ever held open across a host call.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain import imports, quotas
from chaser.domain.errors import (
    ActiveConnections,
    ChaserError,
    InvalidField,
    InvalidRequest,
    SessionNotFound,
    WorkspaceBusy,
)
from chaser.domain.host import Host, host_errors
from chaser.domain.leases import Leases
from chaser.domain.names import is_uuid
from chaser.domain.principal import Principal
from chaser.domain.quotas import StoragePolicy
from chaser.domain.workspaces import SESSION_TYPES, check_image, require_ready, resolve
from chaser.host import browser as browser_vm
from chaser.host.client import HostError
from chaser.host.client import HostUnavailable as ClientUnavailable
from chaser.host.wire import VmInfo, VmSpec, VmState
from chaser.store import leases as lease_store
from chaser.store import sessions as session_store
from chaser.store import workspaces as ws_store
from chaser.store.models import Session, Workspace, new_id, utcnow

MAX_VCPUS = 4
MAX_MEMORY_MIB = 8192
MIN_MEMORY_MIB = 128
MAX_TIMEOUT_S = 86_400
DEFAULT_VCPUS = 1
DEFAULT_MEMORY_MIB = 512
ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class SessionSpec:
    session_type: str = "sandbox"
    workspace: str | None = None
    ephemeral: bool = False
    image: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: int | None = None
    vcpus: int | None = None
    memory_mib: int | None = None
    internet_access: bool = True


def check_env(fld: str, env: dict[str, str]) -> None:
    for key, value in env.items():
        if not ENV_KEY_RE.fullmatch(key):
            raise InvalidField(f"{fld}: key {key!r} must match [A-Za-z_][A-Za-z0-9_]*")
        if not isinstance(value, str):
            raise InvalidField(f"{fld}.{key}: values must be strings")


def validate(spec: SessionSpec) -> None:
    """The contract's create rules, each failing with a message that names it."""
    if spec.session_type not in SESSION_TYPES:
        raise InvalidField("session_type: must be 'sandbox' or 'browser'")
    if spec.ephemeral and spec.workspace:
        raise InvalidField("workspace: an ephemeral session takes no workspace; drop one of the two")
    if not spec.ephemeral and not spec.workspace:
        raise InvalidField("workspace: required unless `ephemeral: true` (name or id of a workspace)")
    if spec.session_type == "browser" and spec.image is not None:
        raise InvalidField("image: browser sessions don't take an image")
    if spec.session_type == "sandbox" and not spec.ephemeral and spec.image is not None:
        raise InvalidField(
            "image: a persistent sandbox takes its image from its workspace; "
            "drop `image` or use `ephemeral: true`"
        )
    if spec.timeout_s is not None and not 1 <= spec.timeout_s <= MAX_TIMEOUT_S:
        raise InvalidField(f"timeout_s: must be between 1 and {MAX_TIMEOUT_S}")
    if spec.vcpus is not None and not 1 <= spec.vcpus <= MAX_VCPUS:
        raise InvalidField(f"vcpus: must be between 1 and {MAX_VCPUS} on this host")
    if spec.memory_mib is not None and not MIN_MEMORY_MIB <= spec.memory_mib <= MAX_MEMORY_MIB:
        raise InvalidField(f"memory_mib: must be between {MIN_MEMORY_MIB} and {MAX_MEMORY_MIB} on this host")
    check_env("env", spec.env)
    check_image("image", spec.image)


async def get_owned(db: AsyncSession, who: Principal, session_id: str) -> Session:
    s = await session_store.get(db, who.account_id, session_id.lower()) if is_uuid(session_id) else None
    if s is None:
        raise SessionNotFound()
    return s


async def create(
    db: AsyncSession, host: Host, who: Principal, spec: SessionSpec, policy: StoragePolicy | None = None
) -> tuple[Session, bool]:
    """Create a session (True) or hand back the workspace's live one (False).

    Order matters: the row and the workspace lease are written in one transaction before the VM
    exists, so a crash leaves a `creating` row that start-up recovery cleans, never an unknown VM
    holding a disk. With a `policy`, attaching a workspace is refused (403 `quota_exceeded`) when
    its disk or the account is over quota, and an empty workspace with an import selector is
    re-bootstrapped before the session is handed out.
    """
    validate(spec)
    browser = spec.session_type == browser_vm.SESSION_TYPE
    ws: Workspace | None = None
    if spec.workspace:
        ws = await resolve(db, who, spec.workspace)
        if ws.session_type != spec.session_type:
            raise InvalidField(
                f"session_type: workspace {ws.name!r} has session_type {ws.session_type!r}; "
                f"a {spec.session_type} session needs a {spec.session_type} workspace"
            )
        live = await _live_session_of(db, host, ws)
        if live is not None:
            return live, False
        require_ready(ws, "start a session")
        if policy is not None:
            usage = await quotas.account_usage(db, host, who.account_id)
            quotas.check_workspace(policy, usage.disks.get(ws.disk_id, 0), "session attach")
            quotas.check_account(policy, usage, 0, "session attach")

    session = Session(
        id=new_id(),
        account_id=who.account_id,
        session_type=spec.session_type,
        status="creating",
        workspace_id=ws.id if ws else None,
        ephemeral=spec.ephemeral,
        image=browser_vm.IMAGE if browser else (ws.image if ws else spec.image) or "base",
        # A browser's defaults are the warm pool's browser shape, so an ephemeral one is a hand-out.
        vcpus=spec.vcpus or (browser_vm.DEFAULT_VCPUS if browser else DEFAULT_VCPUS),
        memory_mib=spec.memory_mib or (browser_vm.DEFAULT_MEMORY_MIB if browser else DEFAULT_MEMORY_MIB),
        timeout_s=spec.timeout_s,
        internet_access=spec.internet_access,
        env=dict(spec.env),
        created_by_key_id=who.key_id,
    )
    await session_store.add(db, session)
    if ws is not None and not await ws_store.take_lease(db, ws.id, session.id):
        # Lost the race to a concurrent create: ours never existed; reuse theirs.
        await db.rollback()
        await db.refresh(ws)
        live = await _live_session_of(db, host, ws)
        if live is not None:
            return live, False
        raise WorkspaceBusy("the workspace is changing hands; retry in a moment")
    await db.commit()

    spec_out = VmSpec(
        vm_id=session.id,
        session_type=session.session_type,
        image=session.image or "base",
        env=session.env,
        disk_id=ws.disk_id if ws else None,
        vcpus=session.vcpus,
        memory_mib=session.memory_mib,
        internet_access=session.internet_access,
        labels={"session_id": session.id, "account_id": session.account_id},
    )
    try:
        with host_errors("session create"):
            info = await host.client.create_vm(spec_out)
            if ws is not None and ws.github_repo and policy is not None:
                info = await imports.rebootstrap_if_empty(db, host, policy, ws, spec_out, info)
    except BaseException:
        await settle(db, host, session, "create_failed")
        raise
    if not await session_store.mark_running(db, session.id, info.runtime, info.accel, info.vm_id):
        # Terminated while the VM was booting: the terminate already ran; make sure the VM goes too.
        await db.commit()
        await _stop_quietly(host, session.id)
    else:
        await db.commit()
    await db.refresh(session)
    return session, True


async def _live_session_of(db: AsyncSession, host: Host, ws: Workspace) -> Session | None:
    """The workspace's live session after reconciling it, or None. Heals a stale lease."""
    if ws.active_session_id is None:
        return None
    s = await session_store.get_any(db, ws.active_session_id, refresh=True)
    if s is not None and s.status == "running":
        s = await reconcile(db, host, s)
    if s is not None and s.status in session_store.LIVE:
        return s
    await ws_store.release_lease(db, ws.id, ws.active_session_id)
    await db.commit()
    await db.refresh(ws)
    return None


async def get(db: AsyncSession, host: Host, who: Principal, session_id: str) -> Session:
    return await reconcile(db, host, await get_owned(db, who, session_id))


async def list_sessions(
    db: AsyncSession,
    host: Host,
    who: Principal,
    *,
    status: str | None,
    session_type: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Session], int]:
    rows, total = await session_store.list_for(
        db, who.account_id, status=status, session_type=session_type, limit=limit, offset=offset
    )
    running = [s for s in rows if s.status == "running"]
    await db.commit()
    if running:
        try:
            vms = {v.vm_id: v for v in await host.fast.list_vms()}
        except (ClientUnavailable, HostError):
            return rows, total
        for s in running:
            vm = vms.get(s.host_vm_id or s.id)
            if vm is None or vm.state == VmState.STOPPED:
                await reconcile(db, host, s)  # confirms with get_vm before acting
    return rows, total


async def reconcile(db: AsyncSession, host: Host, s: Session) -> Session:
    """A running session whose VM is gone or stopped becomes `terminated` (`vm_exited`, or
    `memory_limit_exceeded` when it was killed for that). `unknown` or an unreachable host changes
    nothing: can't tell is not "no"."""
    if s.status != "running":
        return s
    await db.commit()  # never hold a (SQLite write-locking) transaction across a host call
    vm: VmInfo | None = None
    try:
        vm = await host.fast.get_vm(s.host_vm_id or s.id)
    except ClientUnavailable:
        return s
    except HostError as exc:
        if exc.code != "vm_not_found":
            return s
    if vm is not None and vm.state != VmState.STOPPED:
        return s
    await settle(db, host, s, termination_reason(vm))
    return s


def termination_reason(vm: VmInfo | None) -> str:
    """Why a session whose VM stopped by itself ended (`vm`: None when the host lost it)."""
    if vm is not None and vm.exit_cause == "memory_limit":
        return "memory_limit_exceeded"
    return "vm_exited"


async def terminate(
    db: AsyncSession,
    host: Host,
    who: Principal,
    session_id: str,
    *,
    force: bool = False,
    leases: Leases | None = None,
) -> Session:
    """Allowed from `creating` and `running`; on `terminated` it returns the session unchanged.
    With open connections only when `force` (which also ends this process's streams into it)."""
    s = await get_owned(db, who, session_id)
    if s.status == "terminated":
        return s
    await _check_connections(db, s, force)
    if leases is not None:
        # Before the VM goes, so clients see 4409 "terminated", not the host's agent-gone close.
        leases.close_session(s.id)
    await stop_and_mark(db, host, s, "user_request")
    return s


async def _check_connections(db: AsyncSession, s: Session, force: bool) -> None:
    """409 `active_connections` unless `force`: counted now, not from the row loaded earlier."""
    open_now = await lease_store.count(db, s.id)
    await db.commit()
    if open_now > 0 and not force:
        raise ActiveConnections(
            f"the session has {open_now} active connection(s) (PTY, streams, forwards); "
            "close them or pass force=true to terminate"
        )


async def stop_and_mark(db: AsyncSession, host: Host, s: Session, reason: str) -> None:
    """Stop the VM first and only then free the workspace: if the host can't be reached the
    session stays live (503) rather than letting a second VM attach a disk still in use."""
    with host_errors("session terminate"):
        await host.client.stop_vm(s.host_vm_id or s.id)
    await _mark(db, s, reason)


async def settle(db: AsyncSession, host: Host, s: Session, reason: str) -> None:
    """Best-effort stop, then mark terminated: for VMs already dead or never born."""
    await db.commit()
    await _stop_quietly(host, s.host_vm_id or s.id)
    await _mark(db, s, reason)


async def _mark(db: AsyncSession, s: Session, reason: str) -> None:
    await session_store.mark_terminated(db, s.id, reason, utcnow())
    # The VM is gone, so are its streams: their rows go now (their holders' releases are no-ops).
    await lease_store.remove_for_session(db, s.id)
    if s.workspace_id:
        await ws_store.release_lease(db, s.workspace_id, s.id)
    await db.commit()
    await db.refresh(s)


async def _stop_quietly(host: Host, vm_id: str) -> None:
    with contextlib.suppress(ClientUnavailable, HostError):
        await host.client.stop_vm(vm_id)


@dataclass
class BulkResult:
    terminated: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


async def bulk_terminate(
    db: AsyncSession,
    host: Host,
    who: Principal,
    *,
    ids: list[str],
    workspaces: list[str],
    all_sessions: bool,
    session_type: str | None,
    force: bool,
    leases: Leases | None = None,
) -> BulkResult:
    if not ids and not workspaces and not all_sessions:
        raise InvalidRequest("name sessions to terminate: `ids`, `workspaces` or `all: true`")
    result = BulkResult()
    targets: dict[str, Session] = {}
    for sid in ids:
        try:
            targets.setdefault((s := await get_owned(db, who, sid)).id, s)
        except ChaserError as exc:
            result.failed.append({"id": sid, "code": exc.code, "message": exc.message})
    ws_ids: list[str] = []
    for sel in workspaces:
        try:
            ws_ids.append((await resolve(db, who, sel)).id)
        except ChaserError as exc:
            result.failed.append({"id": sel, "code": exc.code, "message": exc.message})
    if ws_ids:
        for s in await session_store.list_live_in_workspaces(db, who.account_id, ws_ids):
            targets.setdefault(s.id, s)
    if all_sessions:
        rows, _ = await session_store.list_for(
            db, who.account_id, status=None, session_type=None, limit=1_000_000, offset=0
        )
        for s in rows:
            if s.status in session_store.LIVE:
                targets.setdefault(s.id, s)
    for s in targets.values():
        if session_type and s.session_type != session_type:
            continue
        try:
            if s.status != "terminated":
                await _check_connections(db, s, force)
                if leases is not None:
                    leases.close_session(s.id)
                await stop_and_mark(db, host, s, "bulk_terminate")
            result.terminated.append(s.id)
        except ChaserError as exc:
            result.failed.append({"id": s.id, "code": exc.code, "message": exc.message})
    return result
