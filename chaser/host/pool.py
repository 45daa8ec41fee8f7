"""The warm pool: booted, idle sandboxes kept ready so creating an ephemeral session is a hand-out.

A spare is an ordinary VM with `pooled=True` in its record; `VmManager.create` renames one to the
new session's id instead of booting (see `VmManager._hand_out`). Spares are never listed by the
API, never adopted after a daemon restart (recover destroys them and the pool boots new ones), and
never push the host past its VM budget: the VM count, or the memory admission of `admission.py`
(a refused refill waits until a VM stops).

Spares come in shapes, one per (image, session_type): `base` sandboxes (`size`) and browsers
(`browser_size`, booted with Chromium already running). Browser spares are armed by demand: a
host keeps them only once it has served a browser session (an idle Chromium costs ~300 MB, not
worth holding on hosts that serve only sandboxes), and only when the browser image is built.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from chaser.host import browser
from chaser.host.errors import ConcurrencyLimit, DaemonError
from chaser.host.vms import VmManager
from chaser.host.wire import VmSpec

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE_S = 5.0


class WarmPool:
    def __init__(
        self, vms: VmManager, size: int, max_vms: int, image: str = "base", browser_size: int = 1
    ) -> None:
        self._vms = vms
        self.size = size
        self.max_vms = max_vms
        self.image = image
        self.browser_size = browser_size

    def _shapes(self) -> list[tuple[str, int]]:
        shapes = [("sandbox", self.size)]
        if self.browser_size > 0 and self._vms.browser_wanted and browser.IMAGE in self._vms.images.names():
            shapes.append((browser.SESSION_TYPE, self.browser_size))
        return shapes

    def _wanted(self, session_type: str, size: int) -> int:
        have = sum(1 for vm in self._vms.pooled() if vm.record.spec.session_type == session_type)
        room = self.max_vms - self._vms.count_all()
        return max(0, min(size - have, room))

    def _spec(self, session_type: str) -> VmSpec:
        vm_id = f"pool-{secrets.token_hex(6)}"
        if session_type == browser.SESSION_TYPE:
            return browser.spare_spec(vm_id)
        return VmSpec(vm_id=vm_id, image=self.image)

    async def run(self) -> None:
        """Refill forever; one boot at a time so a refill never starves the sessions' CPU."""
        if self.size <= 0 and self.browser_size <= 0:
            return
        held = False  # refused for memory: said once in the log, not at every look
        while True:
            self._vms.pool_changed.clear()
            missing = next((t for t, n in self._shapes() if self._wanted(t, n) > 0), None)
            if missing is not None:
                try:
                    await self._vms.create(self._spec(missing), pooled=True)
                    held = False
                    continue
                except ConcurrencyLimit as exc:
                    # Short of memory: no spare until a VM stops (or the periodic look below).
                    if not held:
                        log.info("warm pool: not refilling: %s", exc)
                    held = True
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
