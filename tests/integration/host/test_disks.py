"""Workspace disks: persistence across VMs, one VM at a time, sparse allocation, many loop devices."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest

from chaser.host.client import HostError
from chaser.host.disks import DiskStore, mounted_under
from chaser.host.layout import Layout
from chaser.host.wire import DiskSpec, ExecRequest, VmSpec

from .conftest import Daemon

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]


async def test_disk_persists_across_vms(daemon: Daemon) -> None:
    client = daemon.client()
    disk = await client.create_disk(DiskSpec(disk_id="ws1", size_bytes=10 * 1024**3))
    assert (
        disk.size_bytes == 10 * 1024**3 and disk.allocated_bytes < 64 * 1024**2 and disk.attached_to is None
    )
    assert await client.create_disk(DiskSpec(disk_id="ws1", size_bytes=10 * 1024**3)) == disk  # idempotent

    await client.create_vm(VmSpec(vm_id="one", disk_id="ws1"))
    assert (await client.get_disk("ws1")).attached_to == "one"
    write = await client.exec(
        "one", ExecRequest(command="echo persisted > /workspace/note && stat -c %U .", user="user")
    )
    assert write.output.strip() == "user", "the workspace root belongs to the default user"
    await client.write_file("one", "/workspace/blob", b"\x01" * 4_000_000)

    with pytest.raises(HostError) as busy:
        await client.create_vm(VmSpec(vm_id="two", disk_id="ws1"))
    assert (busy.value.status, busy.value.code) == (409, "disk_busy")
    assert daemon.vm_dirs() == ["one"], "the refused create left nothing behind"
    with pytest.raises(HostError) as busy_delete:
        await client.delete_disk("ws1")
    assert busy_delete.value.code == "disk_busy"

    await client.stop_vm("one")
    assert daemon.mounts() == [], "stopping the VM unmounts its disk"
    detached = await client.get_disk("ws1")
    assert detached.attached_to is None and detached.allocated_bytes >= 4_000_000

    await client.create_vm(VmSpec(vm_id="two", disk_id="ws1"))
    read = await client.exec("two", ExecRequest(command="cat /workspace/note; wc -c < /workspace/blob"))
    assert read.output.split() == ["persisted", "4000000"]
    await client.stop_vm("two")

    await client.delete_disk("ws1")
    await client.delete_disk("ws1")  # idempotent
    assert await client.list_disks() == []
    with pytest.raises(HostError) as missing:
        await client.create_vm(VmSpec(vm_id="three", disk_id="ws1"))
    assert missing.value.code == "disk_not_found"
    await client.aclose()


async def test_more_disks_than_boot_time_loop_devices() -> None:
    """Only /dev/loop0-7 exist at boot; mount must create more on demand."""
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("needs e2fsprogs")
    root = Path(tempfile.mkdtemp(prefix="chd-", dir="/tmp"))
    layout = Layout(root)
    layout.ensure()
    store = DiskStore(layout)
    ids = [f"d{i}" for i in range(12)]
    try:
        await asyncio.gather(*(store.create(i, 64 * 1024**2) for i in ids))
        for disk_id in ids:
            await store.mount(disk_id)
        assert len(mounted_under(layout.mnt)) == 12
    finally:
        for disk_id in ids:
            await store.unmount(disk_id)
        assert mounted_under(layout.mnt) == set()
        shutil.rmtree(root)
