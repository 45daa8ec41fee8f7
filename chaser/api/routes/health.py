from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from chaser.api.deps import HostDep
from chaser.host.client import HostError, HostUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(host: HostDep) -> dict[str, Any]:
    """No auth. `host` is the host daemon's info, or null while it is unreachable."""
    try:
        info = (await host.fast.info()).model_dump()
    except (HostUnavailable, HostError):
        info = None
    return {"ok": True, "host": info}
