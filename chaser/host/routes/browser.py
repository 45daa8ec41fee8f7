"""Browser VMs: `GET /vms/{vm_id}/browser` (Chromium's supervisor state: pid, restarts, recent
exits, loaded extensions, CDP version) and `PUT /vms/{vm_id}/browser/extensions/{name}` (body: a
tar of one checked, unpacked extension; Chromium restarts with it loaded)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from chaser.host import browser
from chaser.host.errors import InvalidRequest, TooLarge
from chaser.host.routes.deps import Vms

router = APIRouter(tags=["browser"])

MAX_EXTENSION_BYTES = 64 * 1024 * 1024  # unpacked; the public limit (16 MiB) is on the archive


@router.get("/vms/{vm_id}/browser")
async def browser_status(vm_id: str, vms: Vms) -> dict[str, Any]:
    link = await vms.ready_link(vm_id)
    return await browser.status(link)


@router.put("/vms/{vm_id}/browser/extensions/{name}")
async def add_extension(vm_id: str, name: str, request: Request, vms: Vms) -> dict[str, Any]:
    link = await vms.ready_link(vm_id)
    if vms.spec_session_type(vm_id) != browser.SESSION_TYPE:
        raise InvalidRequest(f"vm {vm_id!r} is not a browser")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_EXTENSION_BYTES:
            raise TooLarge(f"an extension is limited to {MAX_EXTENSION_BYTES} bytes unpacked")
    return await browser.add_extension(link, name, bytes(body))
