"""Chromium in browser VMs, as the host sees it: where its profile and extensions live, starting
it right after boot (warm-pool spares included, so a hand-out is already a running browser), and
stopping it gracefully before the VM goes (Chromium flushes cookies and local storage on exit).

A workspace-backed browser keeps both on the workspace disk (mounted at /workspace); an
ephemeral one keeps them in the sandbox's tmpfs /tmp, gone with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from chaser.host.agent_link import AgentLink
from chaser.host.errors import AgentUnavailable, DaemonError
from chaser.host.wire import VmSpec

log = logging.getLogger(__name__)

SESSION_TYPE = "browser"
IMAGE = "browser"
CDP_PORT = 9222  # inside the VM, 127.0.0.1 only; reached through the agent's port relay
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0  # the agent waits up to 15 s for a clean exit, then kills
# What a browser session gets unless the create names otherwise (the warm pool boots this shape).
DEFAULT_VCPUS = 2
DEFAULT_MEMORY_MIB = 1024


def is_browser(spec: VmSpec) -> bool:
    return spec.session_type == SESSION_TYPE


def dirs(spec: VmSpec) -> dict[str, str]:
    root = "/workspace" if spec.disk_id else "/tmp/chaser-browser"
    return {"profile_dir": f"{root}/profile", "extensions_dir": f"{root}/extensions"}


def spare_spec(vm_id: str) -> VmSpec:
    return VmSpec(
        vm_id=vm_id,
        session_type=SESSION_TYPE,
        image=IMAGE,
        vcpus=DEFAULT_VCPUS,
        memory_mib=DEFAULT_MEMORY_MIB,
    )


async def start(link: AgentLink, spec: VmSpec) -> dict[str, Any]:
    """Launch Chromium (idempotent) and wait until its CDP answers inside the VM."""
    args = {**dirs(spec), "port": CDP_PORT, "wait": True}
    try:
        reply = await asyncio.wait_for(link.call("browser_start", args), START_TIMEOUT_S)
    except TimeoutError:
        raise AgentUnavailable(
            f"vm {spec.vm_id!r}: Chromium did not start within {START_TIMEOUT_S:.0f}s"
        ) from None
    result: dict[str, Any] = reply.result or {}
    return result


async def stop(link: AgentLink) -> None:
    """Best effort: the VM is about to be destroyed either way."""
    if not link.connected:
        return
    with contextlib.suppress(DaemonError, TimeoutError):
        await asyncio.wait_for(link.call("browser_stop"), STOP_TIMEOUT_S)


async def status(link: AgentLink) -> dict[str, Any]:
    result: dict[str, Any] = (await link.call("browser_status")).result or {}
    return result


async def add_extension(link: AgentLink, name: str, tar: bytes) -> dict[str, Any]:
    reply = await asyncio.wait_for(
        link.call("browser_extension_add", {"name": name}, stdin=tar), START_TIMEOUT_S
    )
    result: dict[str, Any] = reply.result or {}
    return result
