"""kill -9 of the daemon at any moment: the next daemon adopts what runs and removes the rest."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess

import pytest

from chaser.host.client import HostError
from chaser.host.wire import DiskSpec, ExecRequest, VmSpec, VmState

from .conftest import Daemon

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]


async def test_running_vm_is_adopted_after_kill_9(daemon: Daemon) -> None:
    client = daemon.client()
    await client.create_disk(DiskSpec(disk_id="d", size_bytes=256 * 1024**2))
    await client.create_vm(VmSpec(vm_id="keep", disk_id="d"))
    await client.exec("keep", ExecRequest(command="echo before > /workspace/f; echo mem > /tmp/g"))
    await client.aclose()

    daemon.kill(signal.SIGKILL)
    assert daemon.runsc_ids() == ["keep"], "the sandbox outlives its daemon"
    daemon.start()

    client = daemon.client()
    vm = await client.get_vm("keep")
    assert vm.state is VmState.RUNNING and vm.disk_id == "d"
    result = await client.exec("keep", ExecRequest(command="cat /workspace/f /tmp/g"))
    assert result.output.split() == ["before", "mem"], "same sandbox, same memory"
    assert (await client.get_disk("d")).attached_to == "keep"
    assert (await client.info()).vms == 1
    await client.stop_vm("keep")
    assert daemon.runsc_ids() == [] and daemon.mounts() == [] and daemon.vm_dirs() == []
    assert daemon.networks() == []
    await client.aclose()


async def test_sigterm_leaves_sandboxes_running(daemon: Daemon) -> None:
    client = daemon.client()
    await client.create_vm(VmSpec(vm_id="stay"))
    await client.aclose()
    daemon.kill(signal.SIGTERM)
    assert daemon.runsc_ids() == ["stay"]
    daemon.start()
    client = daemon.client()
    assert (await client.exec("stay", ExecRequest(command="echo up"))).output == "up\n"
    await client.stop_vm("stay")
    await client.aclose()


async def test_what_cannot_be_adopted_is_cleaned_up(daemon: Daemon) -> None:
    client = daemon.client()
    await client.create_disk(DiskSpec(disk_id="d1", size_bytes=64 * 1024**2))
    await client.create_disk(DiskSpec(disk_id="d2", size_bytes=64 * 1024**2))
    await client.create_vm(VmSpec(vm_id="exited", disk_id="d1"))
    await client.create_vm(VmSpec(vm_id="orphan", disk_id="d2"))
    await client.create_vm(VmSpec(vm_id="fine"))
    await client.aclose()
    daemon.kill(signal.SIGKILL)

    runsc = ["runsc", f"--root={daemon.state_dir / 'runsc-root'}"]
    # While the daemon is down: one sandbox dies, one loses its record, one crash mid-boot.
    subprocess.run([*runsc, "kill", "exited", "KILL"], check=True, capture_output=True)
    shutil.rmtree(daemon.state_dir / "vms" / "orphan")
    booting = daemon.state_dir / "vms" / "half"
    booting.mkdir()
    fine_state = json.loads((daemon.state_dir / "vms" / "fine" / "state.json").read_text())
    fine_state["spec"]["vm_id"] = "half"
    fine_state["phase"] = "booting"
    (booting / "state.json").write_text(json.dumps(fine_state))
    garbage = daemon.state_dir / "vms" / "garbage"
    garbage.mkdir()
    (garbage / "state.json").write_text("{not json")

    daemon.start()
    client = daemon.client()
    assert [vm.vm_id for vm in await client.list_vms()] == ["fine"]
    assert daemon.runsc_ids() == ["fine"]
    assert daemon.vm_dirs() == ["fine"]
    assert daemon.mounts() == [], "disks of VMs that were not adopted are unmounted"
    assert {d.disk_id: d.attached_to for d in await client.list_disks()} == {"d1": None, "d2": None}
    with pytest.raises(HostError):
        await client.get_vm("exited")
    await client.stop_vm("fine")
    await client.aclose()
