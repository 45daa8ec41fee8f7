from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from chaser.api.deps import Db, HostDep, PolicyDep, Requires
from chaser.api.schemas.sessions import ExecCreate, ExecOut, ProvisionedExecCreate
from chaser.domain import session_io
from chaser.domain.principal import Principal

router = APIRouter(prefix="/v1", tags=["exec"])
Executor = Annotated[Principal, Requires("exec.write")]


@router.post("/sessions/{session_id}/exec")
async def exec_(session_id: str, body: ExecCreate, who: Executor, db: Db, host: HostDep) -> ExecOut:
    """Run a command to completion and return its combined output (capped at 1 MiB), or with
    `background: true` start it and return at once (`status: "running"`, `command_id`); its output
    is then read from `GET .../commands/{command_id}/stream`."""
    done = await session_io.exec_command(db, host, who, session_id, _spec(body))
    return _out(body, done)


@router.post("/exec")
async def exec_provisioned(
    body: ProvisionedExecCreate, who: Executor, db: Db, host: HostDep, policy: PolicyDep
) -> ExecOut:
    """Run a command in a workspace's sandbox (started or reused) or a new ephemeral one;
    `session_id` in the answer names the sandbox for follow-up calls. Needs only `exec.write`.
    Neither `workspace` nor `ephemeral`: the account's default sandbox workspace
    (`PUT /v1/workspaces/default`), or 400 `invalid_request` naming the fix when it has none."""
    done = await session_io.exec_provisioned(
        db,
        host,
        who,
        _spec(body),
        workspace=body.workspace,
        ephemeral=body.ephemeral,
        image=body.image,
        policy=policy,
    )
    return _out(body, done)


def _spec(body: ExecCreate) -> session_io.ExecSpec:
    return session_io.ExecSpec(**body.model_dump(include=set(ExecCreate.model_fields)))


def _out(body: ExecCreate, done: session_io.ExecOutcome) -> ExecOut:
    if done.command is not None:
        c = done.command
        return ExecOut(
            session_id=done.session.id,
            command=body.command,
            status="running",
            background=True,
            exit_code=None,
            output="",
            output_truncated=False,
            command_id=c.command_id,
            pid=c.pid,
            workspace=done.workspace.name if done.workspace else None,
            workspace_id=done.session.workspace_id,
            ephemeral=done.session.ephemeral,
        )
    r = done.result
    assert r is not None
    return ExecOut(
        session_id=done.session.id,
        command=body.command,
        status="timed_out" if r.timed_out else "completed",
        exit_code=None if r.timed_out else r.exit_code,
        output=r.output,
        output_truncated=r.output_truncated,
        pid=r.pid,
        workspace=done.workspace.name if done.workspace else None,
        workspace_id=done.session.workspace_id,
        ephemeral=done.session.ephemeral,
    )
