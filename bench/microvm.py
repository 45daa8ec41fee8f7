"""The qemu runtime: start paths, memory per idle VM, density, and the warm pool through a server.

(a) cold boot to agent ready (kernel + initramfs + Debian + agent HELLO), what a template costs once;
(b) restore from the template to the first agent reply (restore + cont + identity refresh + an
    exec of `true`), what every create costs; restore as a share of cold boot (medians);
(c) host memory per idle restored VM: RSS and PSS of each QEMU (PSS splits the template's RAM file
    pages among the VMs that share them), MemAvailable used per VM, and the CPU an idle VM burns;
(d) density: a real host daemon (`python -m chaser.host`, qemu runtime, no warm pool, its default
    memory admission) is asked for idle VMs one after another until it refuses or `--density` is
    reached; records the count, why it stopped, PSS per VM (the sum of every QEMU's PSS over the
    count: shared template pages counted once), MemAvailable at the end, swap (SwapFree and
    /proc/vmstat pswpout before and after), idle CPU, exec latency at that density, and how many
    more the admission function (as the daemon applies it) would let in at the measured cost.
    Every VM, the daemon, cgroups and the state dir are removed at the end, even on Ctrl-C;
(e) warm pool: `chaser server --runtime qemu` with two spares, create an ephemeral session and get
    its first exec output; baselines from the same server: an exec round trip in a running session
    (the floor of any create), and a create of a size no spare has (restore from the template).

Usage: .venv/bin/python bench/microvm.py [--cold 3] [--restores 10] [--idle 6] [--memory-mib 128]
           [--density 150] [--pool-creates 20] [--reserve-mib N | --refuse-after-mib N]
(`--refuse-after-mib 4000 --density 300` shows the daemon's refusal: 429 after ~4000 MiB of VMs.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _harness import REPO, percentiles, report, running_server

from chaser.host.admission import default_reserve_mib, read_meminfo, refusal
from chaser.host.client import HostClient, HostError
from chaser.host.reap import qemu_pids, reap
from chaser.host.runtimes.base import BootRequest
from chaser.host.runtimes.qemu import metrics
from chaser.host.runtimes.qemu.driver import QemuRuntime, VmFiles, cold_boot
from chaser.host.runtimes.qemu.limits import DEFAULT_OVERHEAD_MIB, Limits
from chaser.host.wire import ExecRequest, VmSpec

CACHE = Path(os.environ.get("CHASER_IMAGE_CACHE", "/var/cache/chaser/images"))
MIB = 1024 * 1024
TOKEN = "bench-token"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def mem_available() -> int:
    return read_meminfo().available_mib * MIB


def vmstat(key: str) -> int:
    for line in Path("/proc/vmstat").read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLK_TCK


async def idle_cpu_percent(pids: list[int], window_s: float = 10.0) -> float:
    """Share of one core each of these processes uses, on average, over the window."""
    before = cpu_seconds(pids)
    await asyncio.sleep(window_s)
    return round(100 * (cpu_seconds(pids) - before) / window_s / max(1, len(pids)), 2)


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


# ---- (d) density through a real host daemon


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def density(args: argparse.Namespace, templates: Path) -> dict[str, object]:
    state = Path(tempfile.mkdtemp(prefix="chd-", dir="/tmp"))  # short: agent sockets live under it
    port = _free_port()
    env = {
        **os.environ,
        "CHASER_HOST_STATE_DIR": str(state),
        "CHASER_HOST_PORT": str(port),
        "CHASER_HOST_TOKEN": TOKEN,
        "CHASER_HOST_IMAGE_CACHE": str(CACHE),
        "CHASER_HOST_RUNTIME": "qemu",
        "CHASER_HOST_QEMU_ACCEL": args.accel,
        "CHASER_HOST_QEMU_TEMPLATES": str(templates),
        "CHASER_HOST_WARM_POOL_SIZE": "0",
        "CHASER_HOST_STORAGE_POOL": "off",
    }
    if args.refuse_after_mib is not None:  # exercise the refusal: only this much memory is left to use
        args.reserve_mib = max(0, read_meminfo().available_mib - args.refuse_after_mib)
    if args.reserve_mib is not None:
        env["CHASER_HOST_MEMORY_RESERVE_MIB"] = str(args.reserve_mib)
    log = open(state.parent / f"{state.name}.log", "wb")  # noqa: SIM115 - closed below
    daemon = subprocess.Popen(
        [sys.executable, "-m", "chaser.host"], cwd=REPO, env=env, stdout=log, stderr=log
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(
                    f"{url}/info", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2
                ).is_success:
                    break
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"host daemon did not start; see {log.name}")
            time.sleep(0.2)
        return asyncio.run(_density_run(HostClient(url, TOKEN, timeout_s=300.0), state, args))
    finally:
        # Whatever happened (a refusal, an error, Ctrl-C): the daemon goes, then everything it ran.
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=30)
        log.close()
        clean_up(state)
        Path(log.name).unlink(missing_ok=True)


def clean_up(state: Path) -> None:
    """Kill every QEMU working under `state`, remove their cgroups, then the directory."""
    reap(state)
    limits = Limits(state)
    for sandbox_id in limits.sandboxes():
        asyncio.run(limits.remove(sandbox_id))
    shutil.rmtree(state, ignore_errors=True)


async def _density_run(client: HostClient, state: Path, args: argparse.Namespace) -> dict[str, object]:
    start_info = read_meminfo()
    pswpout_before = vmstat("pswpout")
    created: list[str] = []
    restore_ms: list[float] = []
    stopped_by = f"cap --density {args.density}"
    try:
        for i in range(args.density):
            vm_id = f"d{i:03d}"
            started = time.perf_counter()
            try:
                await client.create_vm(VmSpec(vm_id=vm_id, memory_mib=args.memory_mib))
            except HostError as exc:
                stopped_by = f"{exc.status} {exc.code}: {exc.message}"
                break
            created.append(vm_id)
            restore_ms.append((time.perf_counter() - started) * 1000)
            if len(created) % 10 == 0:
                load = os.getloadavg()[0]
                print(
                    f"  density: {len(created)} VMs, last restore {restore_ms[-1]:.0f} ms, "
                    f"MemAvailable {read_meminfo().available_mib} MiB, load {load:.1f}",
                    flush=True,
                )
        await asyncio.sleep(10.0)  # idle: let the last guests settle
        pids = qemu_pids(state)
        cpu = await idle_cpu_percent(pids)
        per_vm = [m for pid in pids if (m := metrics.memory(pid))]
        pss_total = sum(m["pss"] for m in per_vm)
        exec_ms: list[float] = []
        for vm_id in (created[:1] + created[len(created) // 2 :][:1] + created[-1:]) * 5:
            t = time.perf_counter()
            await client.exec(vm_id, ExecRequest(command="true"))
            exec_ms.append((time.perf_counter() - t) * 1000)
        end_info = read_meminfo()
        count = len(created)
        pss_mib = pss_total / MIB / max(1, count)
        # How many more the daemon would admit at this cost: its own decision, repeated on a
        # MemAvailable that drops by the measured PSS per VM (nothing is starting meanwhile).
        reserve = (
            args.reserve_mib if args.reserve_mib is not None else default_reserve_mib(end_info.total_mib)
        )
        need = args.memory_mib + DEFAULT_OVERHEAD_MIB
        more, available = 0, float(end_info.available_mib)
        while pss_mib > 0 and refusal(int(available), reserve, 0, need) is None:
            more, available = more + 1, available - pss_mib
        return {
            "vms": count,
            "memory_mib": args.memory_mib,
            "stopped_by": stopped_by,
            "restore_ms": percentiles(restore_ms) if len(restore_ms) > 1 else restore_ms,
            "restore_ms_first10_p50": percentiles(restore_ms[:10])["p50"] if count > 10 else None,
            "restore_ms_last10_p50": percentiles(restore_ms[-10:])["p50"] if count > 10 else None,
            "pss_mib_per_vm": round(pss_mib, 1),
            "rss_mib_per_vm": round(sum(m["rss"] for m in per_vm) / MIB / max(1, count), 1),
            "mem_available_start_mib": start_info.available_mib,
            "mem_available_end_mib": end_info.available_mib,
            "mem_available_used_mib_per_vm": round(
                (start_info.available_mib - end_info.available_mib) / max(1, count), 1
            ),
            "mem_total_mib": end_info.total_mib,
            "swap_total_mib": end_info.swap_total_mib,
            "swap_used_during_mib": max(0, start_info.swap_free_mib - end_info.swap_free_mib),
            "pswpout_delta": vmstat("pswpout") - pswpout_before,
            "idle_cpu_percent_of_a_core_per_vm": cpu,
            "loadavg_1m_end": round(os.getloadavg()[0], 2),
            "exec_true_at_density_ms": percentiles(exec_ms) if len(exec_ms) > 1 else exec_ms,
            "reserve_mib": reserve,
            "admission_would_admit_more": more,
        }
    finally:
        for vm_id in created:
            with contextlib.suppress(Exception):
                await client.stop_vm(vm_id)
        await client.aclose()


# ---- (e) the warm pool through `chaser server --runtime qemu`


def _spares(host_dir: Path) -> int:
    count = 0
    for record in (host_dir / "vms").glob("pool-*/state.json"):
        with contextlib.suppress(OSError, ValueError):
            count += json.loads(record.read_text()).get("phase") == "running"
    return count


def _wait_spares(host_dir: Path, want: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _spares(host_dir) < want:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the warm pool did not reach {want} spares within {timeout:.0f}s")
        time.sleep(0.1)


def _create_and_exec(
    api: httpx.Client, body: dict[str, object], parts: list[float] | None = None
) -> tuple[float, str]:
    """Create a session and run its first exec: total ms (and, in `parts`, the create's share)."""
    start = time.perf_counter()
    session = api.post("/v1/sessions", json=body).raise_for_status().json()
    created = time.perf_counter()
    out = api.post(f"/v1/sessions/{session['id']}/exec", json={"command": "echo ready"})
    assert out.raise_for_status().json()["output"].strip() == "ready"
    if parts is not None:
        parts.append((created - start) * 1000)
    return (time.perf_counter() - start) * 1000, session["id"]


def warm_pool(args: argparse.Namespace, templates: Path) -> dict[str, object]:
    spares = 2
    env = {
        "CHASER_HOST_WARM_POOL_SIZE": str(spares),
        "CHASER_HOST_QEMU_ACCEL": args.accel,
        "CHASER_HOST_QEMU_TEMPLATES": str(templates),  # not the shared cache beside the image
    }
    with running_server(runtime="qemu", env=env) as server, server.client() as api:
        host_dir = server.data_dir / "host"
        _wait_spares(host_dir, spares, 300)  # the first spare may build the template (cold boot)
        create_ms, post_ms, handed_out = [], [], 0
        for _ in range(args.pool_creates):
            _wait_spares(host_dir, spares, 120)  # each create meets a full pool, as a sized pool would
            ms, session_id = _create_and_exec(api, {"ephemeral": True}, post_ms)
            create_ms.append(ms)
            record = json.loads((host_dir / "vms" / session_id / "state.json").read_text())
            handed_out += str(record.get("sandbox_id", "")).startswith("pool-")
            api.delete(f"/v1/sessions/{session_id}", params={"force": "true"}).raise_for_status()

        _wait_spares(host_dir, spares, 120)
        _, session_id = _create_and_exec(api, {"ephemeral": True})
        exec_ms = []
        for _ in range(args.pool_creates + 5):
            start = time.perf_counter()
            api.post(f"/v1/sessions/{session_id}/exec", json={"command": "echo ready"}).raise_for_status()
            exec_ms.append((time.perf_counter() - start) * 1000)
        api.delete(f"/v1/sessions/{session_id}", params={"force": "true"}).raise_for_status()

        # No spare is ever this size: each create restores from the template (the first builds it).
        odd = {"ephemeral": True, "memory_mib": 384}
        _, session_id = _create_and_exec(api, odd)
        api.delete(f"/v1/sessions/{session_id}", params={"force": "true"}).raise_for_status()
        restore_ms = []
        for _ in range(max(2, args.pool_creates // 4)):
            _wait_spares(host_dir, spares, 120)
            ms, session_id = _create_and_exec(api, odd)
            restore_ms.append(ms)
            api.delete(f"/v1/sessions/{session_id}", params={"force": "true"}).raise_for_status()
    return {
        "create": percentiles(create_ms),
        "create_post_only": percentiles(post_ms),
        "handed_out": handed_out,
        "exec": percentiles(exec_ms[5:]),
        "restore_create": percentiles(restore_ms),
    }


# ---- main


async def start_paths(args: argparse.Namespace, state: Path) -> dict[str, object]:
    rootfs = (CACHE / "base" / "rootfs").resolve(strict=True)
    files = VmFiles.for_rootfs(rootfs)
    rt = QemuRuntime(state, args.accel, template_root=state / "t")
    try:
        cold = []
        for _ in range(args.cold):
            start = time.perf_counter()
            assert await cold_boot(state, files, args.accel, "q35", 120.0), "cold boot failed"
            cold.append((time.perf_counter() - start) * 1000)

        _, meta, _ = await rt.template(files, "q35", 1, args.memory_mib)
        restores = []
        for i in range(args.restores):
            restores.append(await restore(rt, state, rootfs, f"r{i}", args.memory_mib))
            await rt.stop(f"r{i}")

        before = mem_available()
        for i in range(args.idle):
            await restore(rt, state, rootfs, f"idle{i}", args.memory_mib)
        await asyncio.sleep(5.0)  # idle: let the guests settle
        pids = [pid for i in range(args.idle) if (pid := rt.pid(f"idle{i}"))]
        per_vm = [metrics.memory(pid) for pid in pids]
        used = (before - mem_available()) / max(1, args.idle)
        cpu = await idle_cpu_percent(pids)
        for i in range(args.idle):
            await rt.stop(f"idle{i}")
        rss = [m["rss"] / MIB for m in per_vm]
        pss = [m["pss"] / MIB for m in per_vm]
        return {
            "cold": percentiles(cold),
            "restore": percentiles(restores),
            "template_cold_boot_s": round(meta.boot_s, 2),
            "template_save_s": round(meta.save_s, 3),
            "idle_vms": len(per_vm),
            "rss_mib_per_idle_vm": round(sum(rss) / max(1, len(rss)), 1),
            "pss_mib_per_idle_vm": round(sum(pss) / max(1, len(pss)), 1),
            "mem_available_used_mib_per_vm": round(used / MIB, 1),
            "idle_cpu_percent_of_a_core_per_vm": cpu,
        }
    finally:
        for p in (state / "qemu").glob("*"):
            await rt.stop(p.name)


def main(args: argparse.Namespace) -> None:
    state = Path(tempfile.mkdtemp(prefix="chb-", dir="/tmp"))  # short: QEMU's sockets live in it
    try:
        paths = asyncio.run(start_paths(args, state))
        dense = density(args, state / "t") if args.density > 0 else None
        pool = warm_pool(args, state / "pool-templates") if args.pool_creates > 0 else None
    finally:
        clean_up(state)

    cold, restore_stats = paths.pop("cold"), paths.pop("restore")
    assert isinstance(cold, dict) and isinstance(restore_stats, dict)
    rows: list[tuple[str, dict[str, float]]] = [
        (f"(a) cold boot to agent ready ({args.accel}, q35)", cold),
        ("(b) restore from template to first agent reply", restore_stats),
    ]
    extra: dict[str, object] = {
        "runtime": "qemu",
        "accel": args.accel,
        "memory_mib": args.memory_mib,
        "restore_over_cold_p50_percent": round(100 * restore_stats["p50"] / cold["p50"], 1),
        **paths,
    }
    if dense is not None:
        restore_at_density = dense.get("restore_ms")
        if isinstance(restore_at_density, dict):
            rows.append((f"(d) restores while filling to {dense['vms']} idle VMs", restore_at_density))
        exec_at_density = dense.get("exec_true_at_density_ms")
        if isinstance(exec_at_density, dict):
            rows.append((f"(d) exec `true` with {dense['vms']} idle VMs running", exec_at_density))
        extra["density"] = dense
    if pool is not None:
        rows += [
            ("(e) create -> first exec output, warm pool (server)", pool["create"]),
            ("(e) baseline: exec round trip in a running session", pool["exec"]),
            ("(e) baseline: create of a size no spare has (restore)", pool["restore_create"]),
        ]
        extra["warm_pool_handed_out"] = f"{pool['handed_out']}/{args.pool_creates}"
        extra["warm_pool_create_post_only_ms"] = pool["create_post_only"]
    extra["targets"] = {
        "restore_over_cold_p50_percent": 15,
        "warm_pool_create_p50_ms": 100,
        "pss_mib_per_idle_vm": 60 * 1000 * 1000 / MIB,
        "density_vms": 150,
    }
    report("microvm", rows, extra)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--restores", type=int, default=10)
    parser.add_argument("--idle", type=int, default=6)
    parser.add_argument("--memory-mib", type=int, default=128)
    parser.add_argument("--accel", default="tcg")
    parser.add_argument("--density", type=int, default=150, help="at most this many idle VMs (0: skip)")
    parser.add_argument("--reserve-mib", type=int, default=None, help="the daemon's memory reserve")
    parser.add_argument(
        "--refuse-after-mib",
        type=int,
        default=None,
        help="set the reserve this far below MemAvailable, so the daemon refuses within the run",
    )
    parser.add_argument("--pool-creates", type=int, default=20, help="warm-pool creates (0: skip)")
    main(parser.parse_args())
