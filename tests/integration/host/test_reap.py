"""`chaser admin reap`: what a restart-safe stop leaves running is ended for good, and never while a
daemon still serves the state directory."""

from __future__ import annotations

import signal

import pytest

from chaser.host.reap import DaemonRunning, reap
from chaser.host.wire import DiskSpec, VmSpec

from .conftest import Daemon

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]


async def test_reap_ends_what_a_stopped_daemon_left(daemon: Daemon) -> None:
    client = daemon.client()
    await client.create_disk(DiskSpec(disk_id="d1", size_bytes=64 * 1024 * 1024))
    await client.create_vm(VmSpec(vm_id="left", disk_id="d1"))
    await client.aclose()
    with pytest.raises(DaemonRunning):
        reap(daemon.state_dir)
    assert daemon.runsc_ids() == ["left"], "refused: nothing was touched"

    daemon.kill(signal.SIGTERM)  # restart-safe stop: the sandbox and its disk mount stay
    assert daemon.runsc_ids() == ["left"] and daemon.mounts()

    reaped = reap(daemon.state_dir)
    assert reaped.sandboxes == ["left"] and len(reaped.networks) == 1
    assert daemon.runsc_ids() == [] and daemon.mounts(with_pool=True) == []
    assert daemon.networks() == []
