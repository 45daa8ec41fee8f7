"""The qemu runtime through the host daemon: restore from a template, exec, files, workspace disks,
a killed VM, a failed restore that leaves nothing, and the warm pool. Slow: TCG on this machine.

The first test pays the template's cold boot (one per image, kept beside the VM image); the others
restore from it in well under a second each.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaser.host.client import HostError
from chaser.host.reap import reap
from chaser.host.runtimes.qemu.limits import Limits
from chaser.host.wire import DiskSpec, ExecRequest, VmSpec, VmState

from .conftest import REPO, Daemon

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


def _skip(reason: str) -> None:
    print(f"\nSKIP {reason}", file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def vm_image(image_cache: Path) -> Path:
    if shutil.which("qemu-system-x86_64") is None or shutil.which("qemu-img") is None:
        subprocess.run(["bash", str(REPO / "images" / "build-vm.sh")], check=False)
    if shutil.which("qemu-system-x86_64") is None:
        _skip("qemu: qemu-system-x86_64 is not installed and images/build-vm.sh could not install it")
    subprocess.run(["bash", str(REPO / "images" / "build-vm.sh")], check=True)
    return image_cache


class QemuDaemon(Daemon):
    def qemu_pids(self) -> list[int]:
        """QEMU processes working under this daemon's state dir (VMs and template builds)."""
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            ours = b"qemu-system" in cmdline and str(self.state_dir).encode() in cmdline
            if ours and stat.rsplit(")", 1)[1].split()[0] != "Z":
                pids.append(int(proc.name))
        return pids

    def run_dirs(self) -> list[str]:
        root = self.state_dir / "qemu"
        return sorted(p.name for p in root.iterdir()) if root.exists() else []

    def destroy(self) -> None:
        self.kill(signal.SIGTERM)
        for pid in self.qemu_pids():
            os.kill(pid, signal.SIGKILL)
        Limits(self.state_dir).remove_all()
        super().destroy()


def _start(image_cache: Path, **env: str) -> QemuDaemon:
    d = QemuDaemon(image_cache, env={"CHASER_HOST_RUNTIME": "qemu", **env})
    d.start(timeout=60)
    return d


@pytest.fixture
def qemu(vm_image: Path) -> Iterator[QemuDaemon]:
    d = _start(vm_image)
    try:
        yield d
    finally:
        d.destroy()


async def _gone(daemon: QemuDaemon, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (daemon.qemu_pids() or daemon.run_dirs() or daemon.networks()):
        await asyncio.sleep(0.1)
    left = (daemon.qemu_pids(), daemon.run_dirs(), daemon.networks())
    assert left == ([], [], []), f"left behind (qemu pids, run dirs, network namespaces): {left}"


async def test_restore_exec_files_stop(qemu: QemuDaemon) -> None:
    client = qemu.client()
    info = await client.info()
    assert info.runtime == "qemu" and info.accel in ("kvm", "tcg")
    a = await client.create_vm(VmSpec(vm_id="qa", memory_mib=256, env={"GREETING": "hi"}))
    assert (a.state, a.runtime, a.accel) == (VmState.RUNNING, "qemu", info.accel)
    started = time.monotonic()
    await client.create_vm(VmSpec(vm_id="qb", memory_mib=256))
    restore_s = time.monotonic() - started
    print(f"\nrestore to agent ready: {restore_s:.2f}s")

    result = await client.exec("qa", ExecRequest(command='echo "$GREETING"; test -d /sys/block/vda'))
    assert result.exit_code == 0 and result.output.startswith("hi\n"), result.output
    await client.write_file("qa", "/tmp/hello.txt", b"from the host\n")
    assert await client.read_file("qa", "/tmp/hello.txt", 1024) == b"from the host\n"

    # Each restored VM got its own identity, and the clock was resynchronised.
    ids = [
        (await client.exec(vm, ExecRequest(command="cat /etc/machine-id; date +%s"))).output.split()
        for vm in ("qa", "qb")
    ]
    assert ids[0][0] != ids[1][0]
    assert all(abs(int(clock) - time.time()) < 30 for _, clock in ids)
    entropy = await client.exec("qa", ExecRequest(command="head -c 16 /dev/urandom | od -An -tx1"))
    entropy_b = await client.exec("qb", ExecRequest(command="head -c 16 /dev/urandom | od -An -tx1"))
    assert entropy.output != entropy_b.output

    await client.stop_vm("qa")
    await client.stop_vm("qb")
    assert await client.list_vms() == []
    await _gone(qemu)
    await client.aclose()


async def test_workspace_disk_persists_across_vms(qemu: QemuDaemon) -> None:
    client = qemu.client()
    await client.create_disk(DiskSpec(disk_id="ws1", size_bytes=64 * 1024 * 1024))
    await client.create_vm(VmSpec(vm_id="w1", memory_mib=256, disk_id="ws1"))
    wrote = await client.exec(
        # No sync here: stopping the VM must flush the guest's page cache itself.
        "w1",
        ExecRequest(command="findmnt -no SOURCE /workspace && echo kept > /workspace/note"),
    )
    assert wrote.exit_code == 0, wrote.output
    assert qemu.mounts() == [], "a qemu workspace is a block device, never loop-mounted on the host"
    await client.stop_vm("w1")
    await client.create_vm(VmSpec(vm_id="w2", memory_mib=256, disk_id="ws1"))
    read = await client.exec("w2", ExecRequest(command="cat /workspace/note"))
    assert (read.exit_code, read.output) == (0, "kept\n")
    await client.stop_vm("w2")
    await client.delete_disk("ws1")
    await _gone(qemu)
    await client.aclose()


async def test_killed_qemu_is_reported_stopped(qemu: QemuDaemon) -> None:
    client = qemu.client()
    await client.create_vm(VmSpec(vm_id="k1", memory_mib=256))
    [pid] = qemu.qemu_pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    vm = await client.get_vm("k1")
    while vm.state is not VmState.STOPPED and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        vm = await client.get_vm("k1")
    assert vm.state is VmState.STOPPED and vm.exit_reason, vm
    await client.stop_vm("k1")
    await _gone(qemu)
    await client.aclose()


async def test_failed_restore_leaves_nothing(vm_image: Path) -> None:
    templates = Path(tempfile.mkdtemp(prefix="cht-", dir="/tmp"))  # short: QEMU's sockets live in it
    daemon = _start(vm_image, CHASER_HOST_QEMU_TEMPLATES=str(templates))
    client = daemon.client()
    try:
        await client.create_vm(VmSpec(vm_id="ok", memory_mib=256))  # cold boot + save: the template
        await client.stop_vm("ok")
        [state] = list(templates.glob("*/state.bin"))
        state.write_bytes(b"QEVM\0\0\0\3not a migration stream" * 10)
        with pytest.raises(HostError) as failed:
            await client.create_vm(VmSpec(vm_id="bad", memory_mib=256))
        assert failed.value.status == 500, failed.value
        assert await client.list_vms() == []
        await _gone(daemon)
        assert daemon.vm_dirs() == []
    finally:
        await client.aclose()
        daemon.destroy()
        shutil.rmtree(templates, ignore_errors=True)


async def test_daemon_killed_mid_restore_leaves_nothing(qemu: QemuDaemon) -> None:
    client = qemu.client()
    await client.create_vm(VmSpec(vm_id="warm", memory_mib=256))  # the template exists from here on
    creating = asyncio.create_task(client.create_vm(VmSpec(vm_id="cut", memory_mib=256)))
    deadline = time.monotonic() + 10
    while len(qemu.qemu_pids()) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    qemu.kill(signal.SIGKILL)
    with pytest.raises(Exception):  # noqa: B017 - the connection just drops
        await creating
    qemu.start(timeout=60)
    assert [v.vm_id for v in await client.list_vms()] == ["warm"], "the finished VM is adopted"
    assert len(qemu.qemu_pids()) == 1 and qemu.run_dirs() == ["warm"]
    assert len(qemu.networks()) == 1, "the cut restore's namespace went with it"
    result = await client.exec("warm", ExecRequest(command="echo adopted"))
    assert result.output == "adopted\n"
    await client.stop_vm("warm")
    await _gone(qemu)
    await client.aclose()


async def test_warm_pool_hands_out_restored_vms(vm_image: Path) -> None:
    daemon = QemuDaemon(vm_image, warm_pool_size=1, env={"CHASER_HOST_RUNTIME": "qemu"})
    daemon.start(timeout=60)
    client = daemon.client()
    try:
        deadline = time.monotonic() + 120
        while not any(n.startswith("pool-") for n in daemon.vm_dirs()) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        while len(daemon.qemu_pids()) < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        [spare] = daemon.run_dirs()
        vm = await client.create_vm(VmSpec(vm_id="sess", env={"GREETING": "pooled"}))
        assert vm.state is VmState.RUNNING
        assert spare in daemon.run_dirs(), "the session runs in the spare's VM"
        result = await client.exec("sess", ExecRequest(command='echo "$GREETING"'))
        assert result.output == "pooled\n"
        await client.stop_vm("sess")
    finally:
        await client.aclose()
        daemon.destroy()


async def test_vm_over_its_memory_limit_is_killed_and_reported(vm_image: Path) -> None:
    # A limit below the guest's RAM (restored VMs share the template's pages, so a guest must write
    # a lot of its RAM before QEMU is charged for it): filling 150 MiB crosses it.
    daemon = _start(vm_image, CHASER_HOST_QEMU_MEM_OVERHEAD_MIB="-96")
    client = daemon.client()
    try:
        await client.create_vm(VmSpec(vm_id="hog", memory_mib=256))
        with pytest.raises(HostError):
            await client.exec(
                "hog",
                ExecRequest(command="python3 -c 'b = bytearray(150 << 20); import time; time.sleep(30)'"),
            )
        deadline = time.monotonic() + 15
        vm = await client.get_vm("hog")
        while vm.state is not VmState.STOPPED and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            vm = await client.get_vm("hog")
        assert vm.state is VmState.STOPPED and "memory limit" in (vm.exit_reason or ""), vm
        assert vm.exit_cause == "memory_limit"
        await client.stop_vm("hog")
        await _gone(daemon)
    finally:
        await client.aclose()
        daemon.destroy()


async def test_short_of_memory_the_daemon_refuses_with_429_and_leaves_nothing(vm_image: Path) -> None:
    # A reserve no host has: every new VM would leave less than it, so each is refused before
    # anything is made (no run dir, overlay, cgroup or QEMU), and the warm pool does not refill.
    daemon = QemuDaemon(
        vm_image,
        warm_pool_size=1,
        env={"CHASER_HOST_RUNTIME": "qemu", "CHASER_HOST_MEMORY_RESERVE_MIB": str(1 << 30)},
    )
    daemon.start(timeout=60)
    client = daemon.client()
    try:
        with pytest.raises(HostError) as refused:
            await client.create_vm(VmSpec(vm_id="m1", memory_mib=128))
        assert (refused.value.status, refused.value.code) == (429, "concurrency_limit"), refused.value
        assert "stop some sessions" in refused.value.message
        assert "CHASER_HOST_MEMORY_RESERVE_MIB" in refused.value.message
        await asyncio.sleep(1.0)  # the pool's first look has come and gone
        assert "warm pool: not refilling" in daemon.log.read_text()
        assert daemon.vm_dirs() == [] and daemon.run_dirs() == [] and daemon.qemu_pids() == []
        assert Limits(daemon.state_dir).sandboxes() == []
        assert (await client.info()).vms == 0, "the daemon keeps serving"
    finally:
        await client.aclose()
        daemon.destroy()


async def test_reap_ends_a_stopped_daemons_vms(qemu: QemuDaemon) -> None:
    """`chaser admin reap` after a restart-safe stop: no QEMU, namespace or cgroup is left."""
    client = qemu.client()
    await client.create_vm(VmSpec(vm_id="left", memory_mib=256))
    await client.aclose()
    qemu.kill(signal.SIGTERM)  # the VM keeps running for the next daemon
    assert len(qemu.qemu_pids()) == 1 and len(qemu.networks()) == 1
    assert Limits(qemu.state_dir).sandboxes() == ["left"]
    reaped = reap(qemu.state_dir)
    assert len(reaped.vm_processes) == 1 and len(reaped.networks) == 1
    assert qemu.qemu_pids() == [] and qemu.networks() == []
    assert Limits(qemu.state_dir).sandboxes() == [], "the VM's cgroups went too"
