"""Each QEMU in its own cgroup (v1 `memory` and `cpu`, as on this hybrid host): guest RAM plus the
monitor's overhead, and `vcpus` CPUs of quota. Past the memory limit the kernel OOM-kills QEMU;
`oom_killed` tells the driver so the VM is reported stopped with that reason.

The cgroups live under `chaser-qemu/<daemon>/<sandbox_id>`, `<daemon>` a hash of the state dir, so two
daemons never share one. Without a writable cgroup hierarchy the limits are skipped (and logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000
# QEMU itself, the TCG translation cache (tb-size) and the page tables: beyond the guest's RAM.
DEFAULT_OVERHEAD_MIB = int(os.environ.get("CHASER_HOST_QEMU_MEM_OVERHEAD_MIB", "192"))


class Limits:
    def __init__(self, state_dir: Path, overhead_mib: int = DEFAULT_OVERHEAD_MIB) -> None:
        self._parent = "chaser-qemu/" + hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:10]
        self.overhead_mib = overhead_mib

    def _dir(self, controller: str, sandbox_id: str) -> Path:
        return CGROUP_ROOT / controller / self._parent / sandbox_id

    def apply(self, sandbox_id: str, pid: int, vcpus: int, memory_mib: int) -> None:
        settings = {
            "memory": {"memory.limit_in_bytes": (memory_mib + self.overhead_mib) * 1024 * 1024},
            "cpu": {"cpu.cfs_period_us": CPU_PERIOD_US, "cpu.cfs_quota_us": vcpus * CPU_PERIOD_US},
        }
        for controller, values in settings.items():
            group = self._dir(controller, sandbox_id)
            try:
                group.mkdir(parents=True, exist_ok=True)
                for name, value in values.items():
                    (group / name).write_text(str(value))
                (group / "cgroup.procs").write_text(str(pid))
            except OSError as exc:
                log.warning("vm %s: no %s cgroup limit (%s)", sandbox_id, controller, exc)

    def oom_killed(self, sandbox_id: str) -> bool:
        with contextlib.suppress(OSError, ValueError):
            for line in (self._dir("memory", sandbox_id) / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value) > 0
        return False

    async def remove(self, sandbox_id: str) -> None:
        """Delete the VM's cgroups; a just-killed QEMU may take a moment to leave them."""
        for attempt in range(40):
            if self._try_remove(sandbox_id):
                break
            await asyncio.sleep(0.025 * (attempt + 1))
        self._prune_parents()

    def remove_all(self) -> list[str]:
        """Every cgroup of this daemon, its QEMUs already dead (`chaser admin reap`). Synchronous."""
        gone = self.sandboxes()
        for sandbox_id in gone:
            self._try_remove(sandbox_id)
        self._prune_parents()
        return gone

    def _try_remove(self, sandbox_id: str) -> bool:
        left = [c for c in ("memory", "cpu") if self._dir(c, sandbox_id).exists()]
        for controller in left:
            with contextlib.suppress(OSError):
                self._dir(controller, sandbox_id).rmdir()
        return not any(self._dir(c, sandbox_id).exists() for c in left)

    def _prune_parents(self) -> None:
        for controller in ("memory", "cpu"):
            group = CGROUP_ROOT / controller / self._parent
            for parent in (group, group.parent):
                with contextlib.suppress(OSError):  # still in use by other VMs: fine
                    parent.rmdir()

    def sandboxes(self) -> list[str]:
        """Sandbox ids with a cgroup of this daemon (for cleaning up after a lost state dir)."""
        found: set[str] = set()
        for controller in ("memory", "cpu"):
            parent = CGROUP_ROOT / controller / self._parent
            if parent.is_dir():
                found.update(p.name for p in parent.iterdir() if p.is_dir())
        return sorted(found)
