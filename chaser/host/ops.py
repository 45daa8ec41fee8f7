"""Ops on a running VM, carried by its agent link: exec, write_file, read_file."""

from __future__ import annotations

import asyncio
import time

from chaser.host.errors import AgentUnavailable, InvalidRequest, TooLarge
from chaser.host.vms import VmManager
from chaser.host.wire import ExecRequest, ExecResult, FileInfo

# The agent enforces timeout_ms itself; the host only guards against an agent that never answers.
EXEC_GRACE_S = 30.0


async def exec_command(vms: VmManager, vm_id: str, request: ExecRequest) -> ExecResult:
    if request.max_output_bytes < 0:
        raise InvalidRequest("max_output_bytes must be >= 0")
    link = await vms.ready_link(vm_id)
    started = time.perf_counter()
    call = link.call(
        "exec",
        {
            "command": request.command,
            "cwd": request.cwd,
            "env": {**vms.spec_env(vm_id), **request.env},
            "user": request.user,
            "timeout_ms": request.timeout_ms,
            "max_output_bytes": request.max_output_bytes,
        },
        stdin=request.stdin.encode() if request.stdin else None,
        max_data=request.max_output_bytes,
    )
    if request.timeout_ms:
        try:
            reply = await asyncio.wait_for(call, request.timeout_ms / 1000 + EXEC_GRACE_S)
        except TimeoutError:
            raise AgentUnavailable(f"vm {vm_id!r}: the agent did not end a timed-out exec") from None
    else:
        reply = await call
    result = reply.result or {}
    pid = next((e.get("pid") for e in reply.events if e.get("type") == "started"), result.get("pid"))
    return ExecResult(
        exit_code=result.get("exit_code"),
        output=bytes(reply.data).decode("utf-8", errors="replace"),
        output_truncated=bool(result.get("truncated")) or reply.data_dropped,
        timed_out=bool(result.get("timed_out")),
        pid=pid,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


async def write_file(
    vms: VmManager, vm_id: str, path: str, content: bytes, user: str | None = None
) -> FileInfo:
    link = await vms.ready_link(vm_id)
    args: dict[str, object] = {"path": path}
    if user:
        args["user"] = user
    reply = await link.call("write_file", args, stdin=content)
    result = reply.result or {}
    return FileInfo(path=str(result.get("path", path)), size=int(result.get("size", len(content))))


async def read_file(vms: VmManager, vm_id: str, path: str, max_bytes: int) -> bytes:
    if max_bytes <= 0:
        raise InvalidRequest("max_bytes must be > 0")
    link = await vms.ready_link(vm_id)
    reply = await link.call("read_file", {"path": path, "max_bytes": max_bytes}, max_data=max_bytes)
    if reply.data_dropped:
        raise TooLarge(f"{path}: more than {max_bytes} bytes")
    return bytes(reply.data)
