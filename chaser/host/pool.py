"""The warm pool: booted, idle sandboxes kept ready so creating an ephemeral session is a hand-out.

A spare is an ordinary VM with `pooled=True` in its record; `VmManager.create` renames one to the
new session's id instead of booting (see `VmManager._hand_out`). Spares are never listed by the
API, never adopted after a daemon restart (recover destroys them and the pool boots new ones), and
never push the host past its VM budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from chaser.host.errors import DaemonError
from chaser.host.vms import VmManager
from chaser.host.wire import VmSpec

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE_S = 5.0


class WarmPool:
    def __init__(self, vms: VmManager, size: int, max_vms: int, image: str = "base") -> None:
        self._vms = vms
        self.size = size
        self.max_vms = max_vms
        self.image = image

    def _wanted(self) -> int:
        missing = self.size - len(self._vms.pooled())
        room = self.max_vms - self._vms.count_all()
        return max(0, min(missing, room))

    async def run(self) -> None:
        """Refill forever; one boot at a time so a refill never starves the sessions' CPU."""
        if self.size <= 0:
            return
        while True:
            self._vms.pool_changed.clear()
            if self._wanted() > 0:
                try:
                    await self._vms.create(
                        VmSpec(vm_id=f"pool-{secrets.token_hex(6)}", image=self.image), pooled=True
                    )
                    continue
                except DaemonError as exc:
                    log.warning("warm pool: boot failed, retrying in %.0fs: %s", RETRY_AFTER_FAILURE_S, exc)
                    await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                    continue
            with contextlib.suppress(TimeoutError):
                # Also look again now and then: a spare may have died on its own.
                await asyncio.wait_for(self._vms.pool_changed.wait(), 10.0)
            for vm in self._vms.pooled():
                if vm.record.phase == "running" and not vm.link.connected:
                    await self._vms.discard_spare(vm)
