"""The warm pool: spares are booted ahead, handed out on create, refilled, and never leak."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaser.host.wire import ExecRequest, VmSpec, VmState

from .conftest import Daemon

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]


@pytest.fixture
def pooled_daemon(image_cache: Path) -> Iterator[Daemon]:
    d = Daemon(image_cache, warm_pool_size=2)
    try:
        d.start()
        yield d
    finally:
        d.destroy()


async def _wait_for_spares(daemon: Daemon, count: int, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A spare counts once its sandbox runs (a spare keeps its pool id as the sandbox id).
        running = set(daemon.runsc_ids())
        spares = [name for name in daemon.vm_dirs() if name.startswith("pool-") and name in running]
        if len(spares) >= count:
            return spares
        await asyncio.sleep(0.2)
    raise AssertionError(f"pool did not reach {count} spares: {daemon.vm_dirs()}")


async def test_create_hands_out_a_spare_and_the_pool_refills(pooled_daemon: Daemon) -> None:
    client = pooled_daemon.client()
    spares = await _wait_for_spares(pooled_daemon, 2)
    assert await client.list_vms() == [], "spares are not sessions' VMs and are never listed"
    assert (await client.info()).vms == 0

    vm = await client.create_vm(VmSpec(vm_id="sess-1", env={"GREETING": "hello"}))
    assert vm.state is VmState.RUNNING
    # The session took over one spare's sandbox rather than booting its own.
    assert "sess-1" in pooled_daemon.vm_dirs()
    assert len(set(spares) & set(pooled_daemon.vm_dirs())) == 1
    assert "sess-1" not in pooled_daemon.runsc_ids()

    result = await client.exec("sess-1", ExecRequest(command='echo "$GREETING"'))
    assert (result.exit_code, result.output) == (0, "hello\n"), "the session env applies to a handed-out VM"

    await _wait_for_spares(pooled_daemon, 2)  # refilled in the background
    await client.stop_vm("sess-1")
    assert [v.vm_id for v in await client.list_vms()] == []
    assert len(pooled_daemon.runsc_ids()) == 2  # only the spares
    await client.aclose()


async def test_disk_backed_and_custom_sized_vms_boot_their_own(pooled_daemon: Daemon) -> None:
    client = pooled_daemon.client()
    await _wait_for_spares(pooled_daemon, 2)
    await client.create_vm(VmSpec(vm_id="big", memory_mib=1024))
    assert "big" in pooled_daemon.runsc_ids(), "a spare of another size is not handed out"
    await client.stop_vm("big")
    await client.aclose()


async def test_spares_do_not_survive_a_daemon_restart(pooled_daemon: Daemon) -> None:
    client = pooled_daemon.client()
    old = set(await _wait_for_spares(pooled_daemon, 2))
    await client.create_vm(VmSpec(vm_id="kept"))
    pooled_daemon.kill(signal.SIGKILL)
    pooled_daemon.start()
    # The session's VM is adopted; the old daemon's spares are destroyed and replaced.
    assert [v.vm_id for v in await client.list_vms()] == ["kept"]
    new = set(await _wait_for_spares(pooled_daemon, 2))
    assert not (old & new)
    assert len(pooled_daemon.runsc_ids()) == 3
    await client.stop_vm("kept")
    await client.aclose()
