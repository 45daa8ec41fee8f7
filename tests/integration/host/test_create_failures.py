"""A create that fails leaves nothing: no runsc container, no mount, no vm dir, no network
namespace; the disk is free."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaser.host.client import HostError
from chaser.host.wire import DiskSpec, ExecRequest, VmSpec

from .conftest import Daemon

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]


@pytest.fixture
def broken_daemon(image_cache: Path, tmp_path: Path) -> Iterator[Daemon]:
    """A daemon whose image cache also holds `empty`, an image with nothing in its rootfs."""
    cache = tmp_path / "images"
    (cache / "empty" / "rootfs").mkdir(parents=True)
    os.symlink((image_cache / "base").resolve(), cache / "base")
    d = Daemon(cache)
    try:
        d.start()
        yield d
    finally:
        d.destroy()


def assert_nothing_left(daemon: Daemon) -> None:
    assert daemon.runsc_ids() == []
    assert daemon.mounts() == []
    assert daemon.vm_dirs() == []
    assert daemon.networks() == []


async def test_unknown_image(broken_daemon: Daemon) -> None:
    client = broken_daemon.client()
    with pytest.raises(HostError) as exc:
        await client.create_vm(VmSpec(vm_id="x", image="no-such-image"))
    assert (exc.value.status, exc.value.code) == (404, "image_not_found")
    assert_nothing_left(broken_daemon)
    await client.aclose()


async def test_runtime_failure_cleans_up(broken_daemon: Daemon) -> None:
    client = broken_daemon.client()
    await client.create_disk(DiskSpec(disk_id="d", size_bytes=64 * 1024**2))
    with pytest.raises(HostError) as exc:
        await client.create_vm(VmSpec(vm_id="x", image="empty", disk_id="d"))
    assert exc.value.code == "runtime_failed", exc.value
    assert_nothing_left(broken_daemon)
    assert (await client.get_disk("d")).attached_to is None
    # The same ids work afterwards.
    await client.create_vm(VmSpec(vm_id="x", disk_id="d"))
    assert (await client.exec("x", ExecRequest(command="echo ok"))).output == "ok\n"
    await client.stop_vm("x")
    await client.aclose()


async def test_agent_that_never_connects_cleans_up(broken_daemon: Daemon) -> None:
    client = broken_daemon.client()
    await client.create_disk(DiskSpec(disk_id="d", size_bytes=64 * 1024**2))
    started = time.monotonic()
    with pytest.raises(HostError) as exc:
        # python3 cannot start without its stdlib, so the agent never says HELLO.
        await client.create_vm(VmSpec(vm_id="x", disk_id="d", env={"PYTHONHOME": "/nonexistent"}))
    assert exc.value.code == "agent_unavailable", exc.value
    assert time.monotonic() - started < 10, "a sandbox that exited is noticed before the boot timeout"
    assert_nothing_left(broken_daemon)
    assert (await client.get_disk("d")).attached_to is None
    await client.aclose()
