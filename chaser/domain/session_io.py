"""What runs inside a sandbox session: exec and file transfer, through the host daemon."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import (
    InvalidField,
    InvalidRequest,
    SessionNotOpen,
    SessionNotReady,
    TooLarge,
)
from chaser.domain.host import Host, host_errors
from chaser.domain.principal import Principal
from chaser.domain.quotas import StoragePolicy
from chaser.domain.sessions import SessionSpec, check_env, get_owned, reconcile
from chaser.domain.sessions import create as create_session
from chaser.domain.workspaces import default_for
from chaser.host.client import HostError
from chaser.host.wire import CommandInfo, ExecRequest, ExecResult, FileInfo
from chaser.store import workspaces as ws_store
from chaser.store.models import Session, Workspace

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_OUTPUT_BYTES = 1024 * 1024
DEFAULT_TIMEOUT_MS = 60_000
MAX_TIMEOUT_MS = 3_600_000


@dataclass
class ExecSpec:
    command: str
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    timeout_ms: int | None = None
    user: str | None = None
    background: bool = False


@dataclass
class ExecOutcome:
    """A finished command (`result`) or, with `background`, a started one (`command`)."""

    session: Session
    workspace: Workspace | None
    result: ExecResult | None = None
    command: CommandInfo | None = None


async def open_sandbox(db: AsyncSession, who: Principal, session_id: str) -> Session:
    """The session, if it can take commands now: `running` and a sandbox."""
    s = await get_owned(db, who, session_id)
    if s.session_type != "sandbox":
        raise InvalidRequest("exec and files work on sandbox sessions only")
    if s.status == "creating":
        raise SessionNotReady()
    if s.status != "running":
        raise SessionNotOpen()
    return s


async def vm_gone(db: AsyncSession, host: Host, s: Session, exc: HostError) -> None:
    """The host no longer has the VM: reconcile, and tell the caller the session is closed."""
    if exc.code in ("vm_not_found", "vm_not_running"):
        await reconcile(db, host, s)
        raise SessionNotOpen("the session's VM has exited; create a new session") from exc


def check_exec(spec: ExecSpec) -> None:
    if not spec.command.strip():
        raise InvalidField("command: must be a non-empty string")
    if spec.timeout_ms is not None and not 1 <= spec.timeout_ms <= MAX_TIMEOUT_MS:
        raise InvalidField(f"timeout_ms: must be between 1 and {MAX_TIMEOUT_MS}")
    check_env("env", spec.env)


async def exec_command(
    db: AsyncSession, host: Host, who: Principal, session_id: str, spec: ExecSpec
) -> ExecOutcome:
    check_exec(spec)
    s = await open_sandbox(db, who, session_id)
    if spec.background:
        return await _start_background(db, host, s, spec)
    request = ExecRequest(
        command=spec.command,
        cwd=spec.cwd,
        env=spec.env,
        stdin=spec.stdin,
        timeout_ms=spec.timeout_ms or DEFAULT_TIMEOUT_MS,
        user=spec.user or "root",
        max_output_bytes=MAX_OUTPUT_BYTES,
    )
    ws = await ws_store.get_any(db, s.workspace_id) if s.workspace_id else None
    await db.commit()  # never hold a (SQLite write-locking) transaction across a host call
    with host_errors("exec"):
        try:
            result = await host.slow.exec(s.host_vm_id or s.id, request)
        except HostError as exc:
            await vm_gone(db, host, s, exc)
            raise
    return ExecOutcome(session=s, workspace=ws, result=result)


async def _start_background(db: AsyncSession, host: Host, s: Session, spec: ExecSpec) -> ExecOutcome:
    """Start the command and return at once; `timeout_ms` does not apply (kill it instead)."""
    ws = await ws_store.get_any(db, s.workspace_id) if s.workspace_id else None
    await db.commit()
    request = ExecRequest(
        command=spec.command, cwd=spec.cwd, env=spec.env, stdin=spec.stdin, user=spec.user or "root"
    )
    with host_errors("start command"):
        try:
            info = await host.client.start_command(s.host_vm_id or s.id, request)
        except HostError as exc:
            await vm_gone(db, host, s, exc)
            raise
    return ExecOutcome(session=s, workspace=ws, command=info)


# A sandbox `POST /v1/exec` starts for an ephemeral call outlives the call (its id is returned for
# follow-up commands) but not forever.
PROVISIONED_TIMEOUT_S = 3_600


async def exec_provisioned(
    db: AsyncSession,
    host: Host,
    who: Principal,
    spec: ExecSpec,
    *,
    workspace: str | None,
    ephemeral: bool,
    image: str | None,
    policy: StoragePolicy | None = None,
) -> ExecOutcome:
    """`POST /v1/exec`: reuse the workspace's live sandbox or start one (ephemeral: a new one
    with a one-hour lifetime), then run the command. Everything is validated before any VM starts.
    Neither `workspace` nor `ephemeral`: the account's default sandbox workspace (400 if none)."""
    check_exec(spec)
    if not workspace and not ephemeral:
        workspace = (await default_for(db, who, "sandbox")).id
    session_spec = SessionSpec(
        session_type="sandbox",
        workspace=workspace,
        ephemeral=ephemeral,
        image=image,
        timeout_s=PROVISIONED_TIMEOUT_S if ephemeral else None,
    )
    session, _ = await create_session(db, host, who, session_spec, policy)
    if session.status != "running":
        raise SessionNotReady()
    return await exec_command(db, host, who, session.id, spec)


MAX_PATH_BYTES = 4096  # Linux PATH_MAX
MAX_NAME_BYTES = 255  # Linux NAME_MAX, per path component


def _check_path(path: str) -> None:
    if not path.startswith("/"):
        raise InvalidField("path: must be an absolute path (start with /)")
    if "\0" in path:
        raise InvalidField("path: must not contain a NUL byte")
    if len(path.encode()) > MAX_PATH_BYTES:
        raise InvalidField(f"path: at most {MAX_PATH_BYTES} bytes")
    if any(len(part.encode()) > MAX_NAME_BYTES for part in path.split("/")):
        raise InvalidField(f"path: each component at most {MAX_NAME_BYTES} bytes")


async def upload(
    db: AsyncSession, host: Host, who: Principal, session_id: str, path: str, content: bytes
) -> FileInfo:
    _check_path(path)
    if len(content) > MAX_FILE_BYTES:
        raise TooLarge(f"file: at most {MAX_FILE_BYTES} bytes per upload")
    s = await open_sandbox(db, who, session_id)
    await db.commit()
    with host_errors("upload"):
        try:
            return await host.client.write_file(s.host_vm_id or s.id, path, content)
        except HostError as exc:
            await vm_gone(db, host, s, exc)
            raise


async def download(db: AsyncSession, host: Host, who: Principal, session_id: str, path: str) -> bytes:
    _check_path(path)
    s = await open_sandbox(db, who, session_id)
    await db.commit()
    with host_errors("download"):
        try:
            data = await host.client.read_file(s.host_vm_id or s.id, path, MAX_FILE_BYTES)
        except HostError as exc:
            await vm_gone(db, host, s, exc)
            raise
    if len(data) > MAX_FILE_BYTES:
        raise TooLarge(
            f"path: the file is larger than {MAX_FILE_BYTES} bytes; downloads are capped at 16 MiB"
        )
    return data


async def self_test(db: AsyncSession, host: Host, who: Principal, session_id: str) -> dict[str, Any]:
    """What the sandbox offers (cwd, PATH, shell, tools, markers, agent version), from the guest."""
    s = await open_sandbox(db, who, session_id)
    await db.commit()
    with host_errors("self-test"):
        try:
            report = await host.client.self_test(s.host_vm_id or s.id)
        except HostError as exc:
            await vm_gone(db, host, s, exc)
            raise
    return {**report.model_dump(), "session_id": s.id}
