"""`POST /vms/{vm_id}/self-test`: what the session's programs find (tools, markers, cwd, user)."""

from __future__ import annotations

from fastapi import APIRouter

from chaser.host.routes.deps import Vms
from chaser.host.wire import SelfTestResult

router = APIRouter(tags=["self-test"])


@router.post("/vms/{vm_id}/self-test")
async def self_test(vm_id: str, vms: Vms) -> SelfTestResult:
    link = await vms.ready_link(vm_id)
    reply = await link.call("self_test", {"env": vms.spec_env(vm_id)})
    return SelfTestResult.model_validate(reply.result)
