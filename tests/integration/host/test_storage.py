"""Workspace storage: the reflink pool, snapshots (detached and frozen live), restore, clone,
fallback to sparse copies, the pool across daemon restarts, and moving old disks into the pool."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from chaser.host.client import HostError
from chaser.host.wire import DiskSpec, ExecRequest, VmSpec

from .conftest import Daemon

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]

GiB = 1024**3


def _fsck_clean(image: Path) -> bool:
    return subprocess.run(["e2fsck", "-fn", str(image)], capture_output=True, check=False).returncode == 0


async def test_snapshot_restore_clone_on_the_reflink_pool(daemon: Daemon) -> None:
    client = daemon.client()
    assert (await client.info()).reflink is True
    assert daemon.mounts(with_pool=True) == [str(daemon.state_dir / "pool")], "the XFS pool is mounted"
    assert (daemon.state_dir / "disks").resolve() == daemon.state_dir / "pool" / "disks"

    await client.create_disk(DiskSpec(disk_id="ws", size_bytes=2 * GiB))
    await client.create_vm(VmSpec(vm_id="one", disk_id="ws"))
    await client.exec(
        "one",
        ExecRequest(command="echo v1 > /workspace/note && head -c 20000000 /dev/urandom > /workspace/blob"),
    )

    with pytest.raises(HostError) as busy:
        await client.create_snapshot("ws", "s1")
    assert (busy.value.status, busy.value.code) == (409, "disk_busy")
    snap = await client.create_snapshot("ws", "s1", force=True)
    assert (snap.snapshot_id, snap.disk_id, snap.size_bytes) == ("s1", "ws", 2 * GiB)
    assert snap.allocated_bytes >= 20_000_000, "the snapshot holds the written data (shared extents)"
    assert _fsck_clean(daemon.state_dir / "snapshots" / "ws" / "s1.ext4"), "a frozen copy is a clean fs"
    with pytest.raises(HostError) as exists:
        await client.create_snapshot("ws", "s1", force=True)
    assert exists.value.code == "snapshot_exists"

    await client.exec("one", ExecRequest(command="echo v2 > /workspace/note && rm /workspace/blob"))
    with pytest.raises(HostError) as busy_restore:
        await client.restore_snapshot("ws", "s1")
    assert (busy_restore.value.status, busy_restore.value.code) == (409, "disk_busy")
    await client.stop_vm("one")

    await client.create_snapshot("ws", "s2")  # detached: no force needed
    assert [s.snapshot_id for s in await client.list_snapshots("ws")] == ["s1", "s2"]
    restored = await client.restore_snapshot("ws", "s1")
    assert restored.disk_id == "ws" and restored.attached_to is None
    clone = await client.clone_disk("ws", "ws-copy")
    assert clone.disk_id == "ws-copy" and clone.size_bytes == 2 * GiB

    await client.create_vm(VmSpec(vm_id="two", disk_id="ws"))
    out = await client.exec("two", ExecRequest(command="cat /workspace/note; wc -c < /workspace/blob"))
    assert out.output.split() == ["v1", "20000000"], "the restore brought back the snapshot's files"
    await client.exec("two", ExecRequest(command="echo changed > /workspace/note"))
    await client.create_vm(VmSpec(vm_id="three", disk_id="ws-copy"))
    out = await client.exec("three", ExecRequest(command="cat /workspace/note"))
    assert out.output.strip() == "v1", "the clone is independent of later writes to its source"
    await client.stop_vm("two")
    await client.stop_vm("three")

    with pytest.raises(HostError) as missing:
        await client.restore_snapshot("ws", "nope")
    assert (missing.value.status, missing.value.code) == (404, "snapshot_not_found")
    await client.delete_snapshot("ws", "s2")
    await client.delete_snapshot("ws", "s2")  # idempotent
    assert [s.snapshot_id for s in await client.list_snapshots("ws")] == ["s1"]
    await client.delete_disk("ws")
    assert not (daemon.state_dir / "snapshots" / "ws").exists(), "deleting a disk deletes its snapshots"
    with pytest.raises(HostError) as gone:
        await client.list_snapshots("ws")
    assert gone.value.code == "disk_not_found"
    await client.aclose()


async def test_frozen_snapshot_while_the_guest_writes(daemon: Daemon) -> None:
    """A writer keeps appending; the forced snapshot is a clean filesystem every time."""
    client = daemon.client()
    await client.create_disk(DiskSpec(disk_id="busy", size_bytes=GiB))
    await client.create_vm(VmSpec(vm_id="w", disk_id="busy"))
    await client.exec(
        "w",
        ExecRequest(
            command="nohup sh -c 'i=0; while :; do i=$((i+1)); echo $i >> /workspace/log; "
            "head -c 65536 /dev/urandom > /workspace/f$((i % 50)); done' >/dev/null 2>&1 &"
        ),
    )
    for n in range(3):
        await client.create_snapshot("busy", f"s{n}", force=True)
        assert _fsck_clean(daemon.state_dir / "snapshots" / "busy" / f"s{n}.ext4")
    out = await client.exec("w", ExecRequest(command="wc -l < /workspace/log"))
    assert int(out.output) > 0, "the writer kept going after the freezes"
    await client.stop_vm("w")
    await client.aclose()


async def test_sparse_copies_without_a_pool(image_cache: Path) -> None:
    daemon = Daemon(image_cache, env={"CHASER_HOST_STORAGE_POOL": "off"})
    try:
        daemon.start()
        client = daemon.client()
        assert (await client.info()).reflink is False
        assert "sparse full copies" in daemon.log.read_text()
        assert daemon.mounts(with_pool=True) == []
        await client.create_disk(DiskSpec(disk_id="d", size_bytes=GiB))
        await client.create_vm(VmSpec(vm_id="v", disk_id="d"))
        await client.exec("v", ExecRequest(command="echo before > /workspace/x"))
        await client.create_snapshot("d", "s", force=True)
        await client.exec("v", ExecRequest(command="echo after > /workspace/x"))
        await client.stop_vm("v")
        await client.restore_snapshot("d", "s")
        await client.clone_disk("d", "d2")
        for disk in ("d", "d2"):
            await client.create_vm(VmSpec(vm_id=f"v-{disk}", disk_id=disk))
            assert (
                await client.exec(f"v-{disk}", ExecRequest(command="cat /workspace/x"))
            ).output == "before\n"
            await client.stop_vm(f"v-{disk}")
        snap = await client.get_snapshot("d", "s")
        assert snap.allocated_bytes < 64 * 1024**2, "the sparse copy skips the empty space"
        await client.aclose()
    finally:
        daemon.destroy()


async def test_pool_is_reused_after_a_crash_and_remounted_after_a_reboot(daemon: Daemon) -> None:
    client = daemon.client()
    await client.create_disk(DiskSpec(disk_id="keep", size_bytes=GiB))
    await client.create_snapshot("keep", "s")
    pool_inode = os.stat(daemon.state_dir / "pool.xfs").st_ino
    daemon.kill()
    daemon.start()  # crash: the pool is still mounted and is reused
    assert daemon.mounts(with_pool=True) == [str(daemon.state_dir / "pool")]
    assert [d.disk_id for d in await client.list_disks()] == ["keep"]
    daemon.kill()
    subprocess.run(["umount", str(daemon.state_dir / "pool")], check=True)  # as after a reboot
    daemon.start()
    assert os.stat(daemon.state_dir / "pool.xfs").st_ino == pool_inode, "made once"
    assert [d.disk_id for d in await client.list_disks()] == ["keep"]
    assert [s.snapshot_id for s in await client.list_snapshots("keep")] == ["s"]
    assert (await client.info()).reflink is True
    await client.aclose()


async def test_disks_of_a_plain_data_dir_move_into_the_pool(image_cache: Path) -> None:
    daemon = Daemon(image_cache, env={"CHASER_HOST_STORAGE_POOL": "off"})
    try:
        daemon.start()
        client = daemon.client()
        await client.create_disk(DiskSpec(disk_id="old", size_bytes=GiB))
        await client.create_vm(VmSpec(vm_id="v", disk_id="old"))
        await client.exec("v", ExecRequest(command="echo kept > /workspace/x"))
        await client.stop_vm("v")
        await client.create_snapshot("old", "s")
        daemon.kill()
        daemon.extra_env = {}
        daemon.start()
        assert (await client.info()).reflink is True
        assert (daemon.state_dir / "disks").is_symlink()
        assert [s.snapshot_id for s in await client.list_snapshots("old")] == ["s"]
        await client.create_vm(VmSpec(vm_id="v2", disk_id="old"))
        assert (await client.exec("v2", ExecRequest(command="cat /workspace/x"))).output == "kept\n"
        await client.stop_vm("v2")
        await client.aclose()
    finally:
        daemon.destroy()
