"""`ping` (no-op round trip) and `health` (what the agent sees of its sandbox)."""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from . import AGENT_VERSION
from .channel import Channel

_STARTED = time.monotonic()


def ping(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    return {}


def health(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    workspace: dict[str, int] | None = None
    if os.path.isdir("/workspace"):
        usage = shutil.disk_usage("/workspace")
        workspace = {"total": usage.total, "used": usage.used, "free": usage.free}
    return {
        "version": AGENT_VERSION,
        "uptime_s": round(time.monotonic() - _STARTED, 3),
        "load": list(os.getloadavg()),
        "workspace": workspace,
    }
