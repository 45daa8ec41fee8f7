"""The host daemon's internal HTTP API: exactly the routes `chaser.host.client.HostClient` calls.

VMs, exec, files and disks are here; the interactive surface (pty, background commands, port
tunnels, self-test; docs/host-streams.md) is in `chaser.host.routes`.

Bearer-token auth on every route. Errors are `{"error": {"code", "message"}}`, mapped once here
from `chaser.host.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chaser.agent import AGENT_VERSION
from chaser.host import ops
from chaser.host.errors import AGENT_CODE_STATUS, AgentError, DaemonError, DiskBusy, TooLarge
from chaser.host.pool import WarmPool
from chaser.host.routes import browser, commands, images, ports, pty, selftest, storage
from chaser.host.upkeep import keep_images
from chaser.host.vms import VmManager
from chaser.host.wire import DiskInfo, DiskSpec, ExecRequest, ExecResult, FileInfo, HostInfo, VmInfo, VmSpec

MAX_FILE_BYTES = 16 * 1024 * 1024


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def create_app(
    vms: VmManager,
    token: str,
    host_id: str,
    pool: WarmPool | None = None,
    pty_grace_s: float = 60.0,
    image_retention_s: float | None = None,
) -> FastAPI:
    """`image_retention_s`: prune images and templates unused this long (None: never, e.g. tests
    sharing one image cache with other daemons)."""
    if not token:
        raise ValueError("the host daemon needs a token (CHASER_HOST_TOKEN)")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await vms.recover()
        tasks = [asyncio.create_task(pool.run())] if pool else []
        if image_retention_s is not None:
            tasks.append(asyncio.create_task(keep_images(vms, image_retention_s)))
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Sessions' sandboxes keep running for the next daemon to adopt; spares would only be
        # destroyed by it, so they go now instead of idling while no daemon runs.
        await vms.discard_spares()
        await vms.close()

    async def authenticate(request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
            raise _Unauthorized()

    app = FastAPI(
        title="chaser host daemon", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    router = APIRouter(dependencies=[Depends(authenticate)])

    @app.exception_handler(_Unauthorized)
    async def on_unauthorized(request: Request, exc: _Unauthorized) -> JSONResponse:
        return _error(401, "unauthorized", "missing or wrong bearer token")

    @app.exception_handler(DaemonError)
    async def on_daemon_error(request: Request, exc: DaemonError) -> JSONResponse:
        if isinstance(exc, AgentError):
            return _error(AGENT_CODE_STATUS.get(exc.agent_code, 500), exc.agent_code, exc.message)
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "invalid_request", str(exc.errors())[:2000])

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(
            exc.status_code, "not_found" if exc.status_code == 404 else "http_error", str(exc.detail)
        )

    @router.get("/info")
    async def info() -> HostInfo:
        return HostInfo(
            host_id=host_id,
            runtime=vms.runtime.name,
            accel=vms.runtime.accel,
            agent_version=AGENT_VERSION,
            vms=vms.count(),
            images=vms.images.names(),
            reflink=storage.storage_of(app.state).reflink,
        )

    @router.post("/vms")
    async def create_vm(spec: VmSpec) -> VmInfo:
        return await vms.create(spec)

    @router.get("/vms")
    async def list_vms() -> list[VmInfo]:
        return await vms.list()

    @router.get("/vms/{vm_id}")
    async def get_vm(vm_id: str) -> VmInfo:
        return await vms.info(vm_id)

    @router.delete("/vms/{vm_id}", status_code=204)
    async def stop_vm(vm_id: str) -> Response:
        await vms.stop(vm_id)
        return Response(status_code=204)

    @router.post("/vms/{vm_id}/exec")
    async def exec_command(vm_id: str, request: ExecRequest) -> ExecResult:
        return await ops.exec_command(vms, vm_id, request)

    @router.put("/vms/{vm_id}/files")
    async def write_file(
        vm_id: str,
        request: Request,
        path: Annotated[str, Query()],
        user: Annotated[str | None, Query()] = None,
    ) -> FileInfo:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FILE_BYTES:
                raise TooLarge(f"file bodies are limited to {MAX_FILE_BYTES} bytes")
        return await ops.write_file(vms, vm_id, path, bytes(body), user=user)

    @router.get("/vms/{vm_id}/files")
    async def read_file(
        vm_id: str, path: Annotated[str, Query()], max_bytes: Annotated[int, Query()] = MAX_FILE_BYTES
    ) -> Response:
        content = await ops.read_file(vms, vm_id, path, max_bytes)
        return Response(content, media_type="application/octet-stream")

    @router.post("/disks")
    async def create_disk(spec: DiskSpec) -> DiskInfo:
        await vms.disks.create(spec.disk_id, spec.size_bytes)
        return vms.disk_info(spec.disk_id)

    @router.get("/disks")
    async def list_disks() -> list[DiskInfo]:
        return [vms.disk_info(disk_id) for disk_id in vms.disks.ids()]

    @router.get("/disks/{disk_id}")
    async def get_disk(disk_id: str) -> DiskInfo:
        return vms.disk_info(disk_id)

    @router.delete("/disks/{disk_id}", status_code=204)
    async def delete_disk(disk_id: str) -> Response:
        owner = vms.attached_to(disk_id)
        if owner is not None:
            raise DiskBusy(f"disk {disk_id!r} is attached to vm {owner!r}")
        await vms.disks.delete(disk_id)
        return Response(status_code=204)

    app.include_router(router)
    app.state.vms = vms
    app.state.token = token
    app.state.pty_grace_s = pty_grace_s
    for module in (pty, commands, selftest, storage, images, browser):
        app.include_router(module.router, dependencies=[Depends(authenticate)])
    # WebSocket routes check the token themselves: they accept, then close 4401.
    app.include_router(pty.socket_router)
    app.include_router(ports.socket_router)
    return app


class _Unauthorized(Exception):
    pass
