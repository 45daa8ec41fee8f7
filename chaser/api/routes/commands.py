"""Background commands: list, get, stream (SSE), stdin, kill. Started by
`POST /v1/sessions/{id}/exec` with `background: true`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query

from chaser.api.deps import Db, HostDep, LeasesDep, Requires
from chaser.api.schemas.commands import CommandList, CommandOut, KillIn, StdinIn
from chaser.api.sse import CommandStream
from chaser.domain import commands
from chaser.domain.errors import InvalidField
from chaser.domain.principal import Principal

router = APIRouter(prefix="/v1/sessions/{session_id}/commands", tags=["commands"])
Reader = Annotated[Principal, Requires("sessions.read")]
Executor = Annotated[Principal, Requires("exec.write")]


@router.get("")
async def list_(session_id: str, who: Reader, db: Db, host: HostDep) -> CommandList:
    """The session's background commands (running, and finished ones for 10 minutes)."""
    infos = await commands.list_commands(db, host, who, session_id)
    return CommandList(data=[CommandOut.of(i) for i in infos], count=len(infos))


@router.get("/{command_id}")
async def get(session_id: str, command_id: str, who: Reader, db: Db, host: HostDep) -> CommandOut:
    return CommandOut.of(await commands.get(db, host, who, session_id, command_id))


def _after(last_event_id: str | None, after: int | None) -> int | None:
    if last_event_id is not None and last_event_id.strip():
        try:
            return int(last_event_id.strip())
        except ValueError:
            raise InvalidField("Last-Event-ID: must be an event id (an integer)") from None
    return after


@router.get(
    "/{command_id}/stream",
    response_class=CommandStream,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream(
    session_id: str,
    command_id: str,
    who: Reader,
    db: Db,
    host: HostDep,
    leases: LeasesDep,
    last_event_id: Annotated[str | None, Header(description="Resume after this event id")] = None,
    after: Annotated[int | None, Query(description="Resume after this event id")] = None,
) -> CommandStream:
    """Server-Sent Events: `id: <seq>`, `event: stdout|stderr|exit|dropped`, `data: {"data": ...}`
    (exit: `{"exit_code": N}`); ends after `exit`. Resumes with `Last-Event-ID` or `?after=`.
    Holds a connection lease while open."""
    source = await commands.open_events(db, host, who, session_id, command_id, _after(last_event_id, after))
    return CommandStream(source, leases)


@router.post("/{command_id}/stdin")
async def stdin(
    session_id: str, command_id: str, body: StdinIn, who: Executor, db: Db, host: HostDep
) -> CommandOut:
    """Write to the command's stdin; `eof: true` closes it afterwards."""
    return CommandOut.of(
        await commands.send_stdin(db, host, who, session_id, command_id, body.data, body.eof)
    )


@router.post("/{command_id}/kill")
async def kill(
    session_id: str, command_id: str, who: Executor, db: Db, host: HostDep, body: KillIn | None = None
) -> CommandOut:
    """Send a signal (default TERM; the body is optional)."""
    signal = body.signal if body is not None else "TERM"
    return CommandOut.of(await commands.kill(db, host, who, session_id, command_id, signal))
