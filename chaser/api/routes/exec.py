from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from chaser.api.deps import Db, HostDep, Requires
from chaser.api.schemas.sessions import ExecCreate, ExecOut
from chaser.domain import session_io
from chaser.domain.principal import Principal

router = APIRouter(prefix="/v1/sessions", tags=["exec"])


@router.post("/{session_id}/exec")
async def exec_(
    session_id: str,
    body: ExecCreate,
    who: Annotated[Principal, Requires("exec.write")],
    db: Db,
    host: HostDep,
) -> ExecOut:
    """Run a command to completion and return its combined output (capped at 1 MiB)."""
    done = await session_io.exec_command(db, host, who, session_id, session_io.ExecSpec(**body.model_dump()))
    r = done.result
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
