"""Background commands: start, list, get, events (NDJSON, resumable by seq), stdin, kill.

The process and its output live in the agent (`chaser.agent.process.command`), so they outlive
any one HTTP stream, and a daemon restart too. `events` checks the command exists first, so an
unknown one is a 404 body rather than a 200 stream that ends at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from chaser.agent.protocol import FrameType
from chaser.host.errors import DaemonError
from chaser.host.routes.deps import Vms
from chaser.host.wire import CommandInfo, CommandKill, CommandStdin, ExecRequest

router = APIRouter(tags=["commands"])


@router.post("/vms/{vm_id}/commands")
async def start_command(vm_id: str, request: ExecRequest, vms: Vms) -> CommandInfo:
    link = await vms.ready_link(vm_id)
    reply = await link.call(
        "command_start",
        {
            "command": request.command,
            "cwd": request.cwd,
            "env": {**vms.spec_env(vm_id), **request.env},
            "user": request.user,
            "timeout_ms": request.timeout_ms,
            "stdin": request.stdin,
        },
    )
    return CommandInfo.model_validate(reply.result)


@router.get("/vms/{vm_id}/commands")
async def list_commands(vm_id: str, vms: Vms) -> list[CommandInfo]:
    link = await vms.ready_link(vm_id)
    reply = await link.call("command_list")
    return [CommandInfo.model_validate(c) for c in reply.result or []]


@router.get("/vms/{vm_id}/commands/{command_id}")
async def get_command(vm_id: str, command_id: str, vms: Vms) -> CommandInfo:
    link = await vms.ready_link(vm_id)
    reply = await link.call("command_get", {"command_id": command_id})
    return CommandInfo.model_validate(reply.result)


@router.get("/vms/{vm_id}/commands/{command_id}/events")
async def command_events(
    vm_id: str, command_id: str, vms: Vms, after: Annotated[int, Query(ge=0)] = 0
) -> StreamingResponse:
    link = await vms.ready_link(vm_id)
    await link.call("command_get", {"command_id": command_id})  # 404 before the stream starts

    async def lines() -> AsyncIterator[bytes]:
        try:
            async with link.stream("command_events", {"command_id": command_id, "after": after}) as stream:
                while True:
                    frame = await stream.recv()
                    if frame.type is FrameType.EVENT:
                        yield json.dumps(frame.json(), separators=(",", ":")).encode() + b"\n"
                    elif frame.type is FrameType.CLOSE:
                        return
        except DaemonError:
            return  # the link dropped mid-stream: the client resumes with `after`

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.post("/vms/{vm_id}/commands/{command_id}/stdin")
async def command_stdin(vm_id: str, command_id: str, body: CommandStdin, vms: Vms) -> CommandInfo:
    link = await vms.ready_link(vm_id)
    reply = await link.call("command_stdin", {"command_id": command_id, "data": body.data, "eof": body.eof})
    return CommandInfo.model_validate(reply.result)


@router.post("/vms/{vm_id}/commands/{command_id}/kill")
async def kill_command(vm_id: str, command_id: str, body: CommandKill, vms: Vms) -> CommandInfo:
    link = await vms.ready_link(vm_id)
    reply = await link.call("command_kill", {"command_id": command_id, "signal": body.signal})
    return CommandInfo.model_validate(reply.result)
