"""The qemu runtime's start paths, measured on the driver directly (no server in between).

(a) cold boot to agent ready (kernel + initramfs + Debian + agent HELLO), what a template costs once;
(b) restore from the template to the first agent reply (restore + cont + identity refresh + an
    exec of `true`), what every create costs; the ratio of the medians;
(c) host memory per idle restored VM: RSS and PSS of each QEMU (PSS splits the template's RAM file
    pages among the VMs that share them), and MemAvailable used per VM.

Usage: .venv/bin/python bench/microvm.py [--cold 3] [--restores 10] [--idle 6] [--memory-mib 256]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from _harness import percentiles, report

from chaser.host.runtimes.base import BootRequest
from chaser.host.runtimes.qemu import metrics
from chaser.host.runtimes.qemu.driver import QemuRuntime, VmFiles, cold_boot

CACHE = Path(os.environ.get("CHASER_IMAGE_CACHE", "/var/cache/chaser/images"))


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


async def restore(rt: QemuRuntime, state: Path, rootfs: Path, vm_id: str, memory_mib: int) -> float:
    vm_dir = state / "vms" / vm_id
    vm_dir.mkdir(parents=True)
    token = secrets.token_urlsafe(16)
    link = rt.agent_link(vm_id, vm_id, vm_dir / "agent.sock", token)
    await link.listen()
    start = time.perf_counter()
    await rt.boot(
        BootRequest(
            vm_id=vm_id, rootfs=rootfs, bundle_dir=vm_dir, agent_dir=vm_dir, socket_dir=vm_dir,
            workspace_dir=None, agent_token=token, console_log=vm_dir / "console.log", memory_mib=memory_mib,
        )
    )  # fmt: skip
    await link.call("exec", {"command": "true"})
    elapsed = (time.perf_counter() - start) * 1000
    await link.close()
    return elapsed


async def main(args: argparse.Namespace) -> None:
    rootfs = (CACHE / "base" / "rootfs").resolve(strict=True)
    files = VmFiles.for_rootfs(rootfs)
    state = Path(tempfile.mkdtemp(prefix="chb-", dir="/tmp"))
    rt = QemuRuntime(state, args.accel, template_root=state / "t")
    try:
        cold = []
        for _ in range(args.cold):
            start = time.perf_counter()
            assert await cold_boot(state, files, args.accel, "q35", 120.0), "cold boot failed"
            cold.append((time.perf_counter() - start) * 1000)

        _, meta = await rt.template(files, "q35", 1, args.memory_mib)
        restores = []
        for i in range(args.restores):
            restores.append(await restore(rt, state, rootfs, f"r{i}", args.memory_mib))
            await rt.stop(f"r{i}")

        before = mem_available()
        for i in range(args.idle):
            await restore(rt, state, rootfs, f"idle{i}", args.memory_mib)
        await asyncio.sleep(5.0)  # idle: let the guests settle
        per_vm = [metrics.memory(pid) for i in range(args.idle) if (pid := rt.pid(f"idle{i}"))]
        used = (before - mem_available()) / max(1, args.idle)
        for i in range(args.idle):
            await rt.stop(f"idle{i}")

        mib = 1024 * 1024
        rss = [m["rss"] / mib for m in per_vm]
        pss = [m["pss"] / mib for m in per_vm]
        cold_stats, restore_stats = percentiles(cold), percentiles(restores)
        report(
            "microvm",
            [
                (f"cold boot to agent ready ({args.accel}, q35)", cold_stats),
                ("restore from template to first agent reply", restore_stats),
            ],
            {
                "runtime": "qemu",
                "accel": args.accel,
                "memory_mib": args.memory_mib,
                "ratio_cold_over_restore_p50": round(cold_stats["p50"] / restore_stats["p50"], 1),
                "template_cold_boot_s": round(meta.boot_s, 2),
                "template_save_s": round(meta.save_s, 3),
                "idle_vms": len(per_vm),
                "rss_mib_per_idle_vm": round(sum(rss) / max(1, len(rss)), 1),
                "pss_mib_per_idle_vm": round(sum(pss) / max(1, len(pss)), 1),
                "mem_available_used_mib_per_vm": round(used / mib, 1),
            },
        )
    finally:
        for p in (state / "qemu").glob("*"):
            await rt.stop(p.name)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--restores", type=int, default=10)
    parser.add_argument("--idle", type=int, default=6)
    parser.add_argument("--memory-mib", type=int, default=256)
    parser.add_argument("--accel", default="tcg")
    asyncio.run(main(parser.parse_args()))
