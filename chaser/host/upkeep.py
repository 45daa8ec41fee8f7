"""The daemon's housekeeping loop: keep what live VMs use marked, prune what nothing has used.

Runs once shortly after start (after recovery has adopted the VMs that survived) and then every
hour; see `chaser.host.images.prune` for what is kept and why.
"""

from __future__ import annotations

import asyncio
import logging

from chaser.host.images.prune import mark_used, prune
from chaser.host.vms import VmManager

log = logging.getLogger(__name__)

UPKEEP_INTERVAL_S = 3600.0


async def keep_images(vms: VmManager, retention_s: float, interval_s: float = UPKEEP_INTERVAL_S) -> None:
    while True:
        for rootfs in vms.rootfs_in_use():
            mark_used(rootfs.parent)
        try:
            await asyncio.to_thread(prune, vms.images.root, retention_s)
        except OSError as exc:
            log.warning("images: pruning failed: %r", exc)
        await asyncio.sleep(interval_s)
