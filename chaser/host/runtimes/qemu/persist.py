"""Snapshot and restore of a whole VM: QEMU migration to a file, the disk frozen at the same instant.

A template is one cold-booted VM, saved once per (image, agent, accel, machine, vcpus, memory):

    <templates>/<key>/meta.json   what it is, and the agent token its HELLO carries
                      mem.ram     guest RAM (the template's memory-backend-file, share=on)
                      root.qcow2  the root disk overlay, read-only from now on (restored VMs'
                                  overlays use it as their backing file)
                      state.bin   device state (x-ignore-shared: the RAM is in mem.ram, not here)

Save: `stop` → `migrate` → wait `completed` → quit. The VM is stopped before the migration starts
and QEMU flushes and inactivates its disks when it completes, so RAM and disk are captured at the
same instant. Restore: start QEMU with `-incoming defer` on the template's files (RAM mapped
privately: pages stay shared with every other VM of the template until written), `migrate-incoming`,
wait for `paused`, then `cont` — a restored VM stays paused without it (vm-lab §7).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from chaser.host.runtimes.qemu.qmp import Qmp

SAVE_TIMEOUT_S = 60.0
LOAD_TIMEOUT_S = 60.0
CAPABILITIES = [{"capability": "x-ignore-shared", "state": True}]


@dataclass(frozen=True)
class TemplateMeta:
    key: str
    accel: str
    machine: str
    vcpus: int
    memory_mib: int
    agent_token: str
    boot_s: float
    save_s: float


def read_meta(template_dir: Path) -> TemplateMeta | None:
    try:
        return TemplateMeta(**json.loads((template_dir / "meta.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_meta(template_dir: Path, meta: TemplateMeta) -> None:
    (template_dir / "meta.json").write_text(json.dumps(asdict(meta), indent=1))


async def save(qmp: Qmp, state_file: Path, alive: Callable[[], bool]) -> None:
    await qmp.execute("migrate-set-capabilities", {"capabilities": CAPABILITIES})
    await qmp.execute("stop")
    await qmp.execute("migrate", {"uri": f"exec:cat > {shlex.quote(str(state_file))}"})
    await qmp.wait_migration(SAVE_TIMEOUT_S, alive)


async def load(qmp: Qmp, state_file: Path, alive: Callable[[], bool]) -> None:
    await qmp.execute("migrate-set-capabilities", {"capabilities": CAPABILITIES})
    await qmp.execute("migrate-incoming", {"uri": f"exec:cat {shlex.quote(str(state_file))}"})
    await qmp.wait_status({"paused", "running"}, LOAD_TIMEOUT_S, alive)
    await qmp.execute("cont")
