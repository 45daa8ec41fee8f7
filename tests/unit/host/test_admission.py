"""Memory admission: the pure decision, /proc/meminfo parsing, and how VmManager charges VMs that
are still booting (a fake runtime whose boot waits, so no sandbox is involved)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaser.host.admission import MemInfo, default_reserve_mib, parse_meminfo, refusal
from chaser.host.agent_link import AgentLink
from chaser.host.disks import DiskStore
from chaser.host.errors import ConcurrencyLimit
from chaser.host.images import ImageCache
from chaser.host.layout import Layout
from chaser.host.runtimes.base import BootRequest, SandboxStatus
from chaser.host.vms import VmManager
from chaser.host.wire import VmSpec

MEMINFO = """\
MemTotal:       24684092 kB
MemFree:        19195672 kB
MemAvailable:   23844080 kB
Buffers:          102116 kB
SwapTotal:       2097148 kB
SwapFree:        2097000 kB
HugePages_Total:       0
"""


def test_parse_meminfo_in_mib() -> None:
    info = parse_meminfo(MEMINFO)
    assert info == MemInfo(total_mib=24105, available_mib=23285, swap_total_mib=2047, swap_free_mib=2047)
    # Kernels before 3.14 have no MemAvailable: MemFree is the (pessimistic) stand-in.
    assert parse_meminfo("MemTotal: 2048000 kB\nMemFree: 1024000 kB\n").available_mib == 1000


def test_default_reserve_is_a_gibibyte_or_five_percent() -> None:
    assert default_reserve_mib(8 * 1024) == 1024
    assert default_reserve_mib(24105) == 1205  # this project's 24 GiB development machine
    assert default_reserve_mib(256 * 1024) == 13107


def test_refusal_counts_what_is_starting_and_what_the_new_vm_may_take() -> None:
    assert refusal(available_mib=4000, reserve_mib=1000, starting_mib=0, need_mib=320) is None
    assert refusal(available_mib=1320, reserve_mib=1000, starting_mib=0, need_mib=320) is None  # exactly
    assert refusal(available_mib=1319, reserve_mib=1000, starting_mib=0, need_mib=320) is not None
    # Enough for this VM alone, not with two others still booting that MemAvailable cannot show yet.
    assert refusal(available_mib=1800, reserve_mib=1000, starting_mib=640, need_mib=320) is not None


def test_refusal_message_gives_the_figures_and_names_the_fixes() -> None:
    message = refusal(available_mib=1200, reserve_mib=1205, starting_mib=320, need_mib=320)
    assert message is not None
    for part in ("1200 MiB available", "320 MiB held for VMs still starting", "may take 320 MiB", "1205 MiB"):
        assert part in message, message
    assert "stop some sessions" in message and "CHASER_HOST_MEMORY_RESERVE_MIB" in message
    assert "still starting" not in (refusal(100, 1000, 0, 320) or "")


# ---- VmManager: the check runs under the claim lock, and a booting VM is charged its worst case


class HeldRuntime:
    """A runtime whose boots wait until released (the agent never connects; the test cancels)."""

    name = "fake"
    accel = "none"
    disk_images = False
    memory_overhead_mib = 100

    def __init__(self) -> None:
        self.booting = asyncio.Event()
        self.stopped: list[str] = []

    def agent_link(self, vm_id: str, sandbox_id: str, socket_path: Path, token: str) -> AgentLink:
        return AgentLink(vm_id, socket_path, token)

    async def boot(self, request: BootRequest) -> None:
        self.booting.set()
        await asyncio.Event().wait()

    async def stop(self, vm_id: str) -> None:
        self.stopped.append(vm_id)

    async def list(self) -> dict[str, SandboxStatus]:
        return {}

    async def state(self, vm_id: str) -> SandboxStatus:
        return SandboxStatus.RUNNING


@pytest.fixture
def state() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="adm-", dir="/tmp") as tmp:  # short: agent sockets
        root = Path(tmp)
        (root / "images" / "base" / "rootfs").mkdir(parents=True)
        yield root


def _manager(state: Path, runtime: HeldRuntime, available_mib: int, reserve_mib: int = 1000) -> VmManager:
    layout = Layout(state / "host")
    layout.ensure()
    return VmManager(
        layout,
        runtime,
        ImageCache(state / "images"),
        DiskStore(layout),
        memory_reserve_mib=reserve_mib,
        meminfo=lambda: MemInfo(total_mib=8192, available_mib=available_mib),
    )


@pytest.mark.anyio
async def test_a_booting_vm_holds_its_memory_until_it_runs(state: Path) -> None:
    runtime = HeldRuntime()
    # Room for one 128 MiB VM (+100 overhead) above the reserve, not two.
    vms = _manager(state, runtime, available_mib=1000 + 2 * 228 - 1)
    first = asyncio.create_task(vms.create(VmSpec(vm_id="a", memory_mib=128)))
    await asyncio.wait_for(runtime.booting.wait(), 5)
    assert vms.starting_mib() == 228
    with pytest.raises(ConcurrencyLimit) as refused:
        await vms.create(VmSpec(vm_id="b", memory_mib=128))
    assert "228 MiB held for VMs still starting" in refused.value.message
    assert refused.value.status == 429 and refused.value.code == "concurrency_limit"
    assert not vms.layout.vm_dir("b").exists(), "a refused VM allocates nothing"
    with pytest.raises(ConcurrencyLimit):  # the warm pool is refused the same way
        await vms.create(VmSpec(vm_id="pool-x", memory_mib=128), pooled=True)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert vms.starting_mib() == 0 and vms.count_all() == 0 and runtime.stopped == ["a"]


def test_default_reserve_comes_from_memtotal(state: Path) -> None:
    layout = Layout(state / "host")
    vms = VmManager(
        layout,
        HeldRuntime(),
        ImageCache(state / "images"),
        DiskStore(layout),
        meminfo=lambda: MemInfo(total_mib=64 * 1024, available_mib=60 * 1024),
    )
    assert vms.memory_reserve_mib == 3276
    assert vms.memory_refusal(VmSpec(vm_id="x", memory_mib=128)) is None
    assert vms.memory_refusal(VmSpec(vm_id="x", memory_mib=60 * 1024)) is not None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
