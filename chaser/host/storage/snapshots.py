"""Snapshots, restores and clones of workspace disks.

`snapshots/<disk_id>/<snapshot_id>.ext4` is a copy of the disk image at one instant: disk state,
never RAM. On the reflink pool every copy (snapshot, restore, clone) is a FICLONE of the whole
image: milliseconds, and no new data blocks until one side is written.

Consistency of the source image:
- Detached disk: nothing writes to it. The copy runs under the VM manager's claim lock (the lock
  `VmManager.create` takes to attach a disk), so no VM can attach it halfway through a copy.
- Attached disk (only with `force`, else 409 `disk_busy`), held under the VM's own lock so it is
  not stopped meanwhile:
  - gVisor (the disk is a host loop mount bind-mounted at /workspace): the agent runs `sync`
    in the guest (gVisor's sentry flushes its cached writes to the gofer, i.e. to the host
    mount), then the *host* freezes the mount (`fsfreeze -f state_dir/mnt/<id>`: ext4 flushes
    its journal and blocks new writes, so the image file is a clean filesystem), the image is
    copied, and `fsfreeze -u` runs in a `finally`. `fsfreeze` inside gVisor does not work (its
    sentry has no FIFREEZE; the ioctl fails with ENOTTY), and it would not reach the host
    filesystem anyway. Writers in the guest just wait for the instant of the copy.
  - Runtimes that attach the image as a block device (`runtime.disk_images`, qemu): the agent
    runs `sync; fsfreeze -f /workspace` in the guest, the host copies, and the agent runs
    `fsfreeze -u /workspace` in a `finally`.
- Restore needs a detached disk (409 `disk_busy` otherwise; the control plane stops the session
  first). The snapshot is copied to a temporary name, then renamed over the disk image under the
  claim lock, so a VM never sees half a restore.

`allocated_bytes` is st_blocks * 512 of each file: extents a reflink shares are counted in every
file that holds them, so the sum over a disk and its snapshots is an upper bound of the real use
(the pool's own usage, `df state_dir/pool`, is the exact figure).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

from chaser.host import ops
from chaser.host.commands import run as _run
from chaser.host.errors import (
    AgentError,
    DiskBusy,
    DiskExists,
    DiskNotFound,
    FreezeFailed,
    SnapshotExists,
    SnapshotNotFound,
)
from chaser.host.layout import check_id
from chaser.host.storage.copy import copy_image
from chaser.host.storage.pool import Storage
from chaser.host.vms import VmManager
from chaser.host.wire import DiskInfo, ExecRequest, SnapshotInfo

log = logging.getLogger(__name__)

FREEZE_SYNC_TIMEOUT_MS = 30_000


class Snapshots:
    def __init__(self, storage: Storage, vms: VmManager) -> None:
        self.storage = storage
        self.vms = vms

    # ---- paths and queries

    def _disk_image(self, disk_id: str) -> Path:
        path = self.vms.layout.disk_path(check_id("disk_id", disk_id))
        if not path.exists():
            raise DiskNotFound(f"no disk {disk_id!r}")
        return path

    def _snapshot_path(self, disk_id: str, snapshot_id: str) -> Path:
        check_id("snapshot_id", snapshot_id)
        return self.storage.snapshot_dir(check_id("disk_id", disk_id)) / f"{snapshot_id}.ext4"

    def info(self, disk_id: str, snapshot_id: str) -> SnapshotInfo:
        path = self._snapshot_path(disk_id, snapshot_id)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise SnapshotNotFound(f"disk {disk_id!r} has no snapshot {snapshot_id!r}") from None
        return SnapshotInfo(
            snapshot_id=snapshot_id,
            disk_id=disk_id,
            size_bytes=st.st_size,
            allocated_bytes=st.st_blocks * 512,
            created_at=st.st_mtime,
        )

    def list(self, disk_id: str) -> list[SnapshotInfo]:
        self._disk_image(disk_id)
        folder = self.storage.snapshot_dir(disk_id)
        names = [p.name.removesuffix(".ext4") for p in folder.glob("*.ext4") if not p.name.startswith(".")]
        infos = []
        for name in names:
            with contextlib.suppress(SnapshotNotFound):
                infos.append(self.info(disk_id, name))
        return sorted(infos, key=lambda s: (s.created_at, s.snapshot_id))

    # ---- a consistent source image

    @contextlib.asynccontextmanager
    async def _stable(self, disk_id: str, force: bool) -> AsyncIterator[Path]:
        """The disk's image, unchanging for as long as the block runs (see the module docstring)."""
        image = self._disk_image(disk_id)
        # The same lock VmManager.create claims disks under: no VM attaches this disk meanwhile.
        async with self.vms.claims:
            owner = self.vms.attached_to(disk_id)
            if owner is None:
                yield image
                return
        if not force:
            raise DiskBusy(f"disk {disk_id!r} is attached to vm {owner!r} (force freezes it for the copy)")
        vm = self.vms.get(owner)
        async with vm.lock:  # not stopped (and unmounted) halfway
            if self.vms.attached_to(disk_id) != owner:
                raise DiskBusy(f"disk {disk_id!r} changed hands; try again")
            async with self._frozen(owner, disk_id):
                yield image

    @contextlib.asynccontextmanager
    async def _frozen(self, vm_id: str, disk_id: str) -> AsyncIterator[None]:
        in_guest = self.vms.runtime.disk_images
        command = "sync && fsfreeze -f /workspace" if in_guest else "sync"
        started = time.monotonic()
        try:
            result = await ops.exec_command(
                self.vms, vm_id, ExecRequest(command=command, timeout_ms=FREEZE_SYNC_TIMEOUT_MS)
            )
        except AgentError as exc:
            raise FreezeFailed(f"vm {vm_id!r}: {command!r} failed: {exc.message}") from exc
        if result.exit_code != 0:
            raise FreezeFailed(f"vm {vm_id!r}: {command!r} failed: {result.output.strip()[-500:]}")
        point = self.vms.layout.mount_dir(disk_id)
        if not in_guest:
            code, out = await _run("fsfreeze", "-f", str(point))
            if code != 0:
                raise FreezeFailed(f"fsfreeze -f {point} failed: {out}")
        try:
            yield
        finally:
            if in_guest:
                thaw = await ops.exec_command(
                    self.vms, vm_id, ExecRequest(command="fsfreeze -u /workspace", timeout_ms=10_000)
                )
                ok, out = thaw.exit_code == 0, thaw.output
            else:
                code, out = await _run("fsfreeze", "-u", str(point))
                ok = code == 0
            if not ok:
                log.error("disk %s: thaw failed: %s", disk_id, out)
            log.info("disk %s: frozen for %.1f ms", disk_id, (time.monotonic() - started) * 1000)

    # ---- operations

    async def create(self, disk_id: str, snapshot_id: str, force: bool = False) -> SnapshotInfo:
        target = self._snapshot_path(disk_id, snapshot_id)
        if target.exists():
            raise SnapshotExists(f"disk {disk_id!r} already has a snapshot {snapshot_id!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        async with self._stable(disk_id, force) as image:
            await copy_image(image, target, self.storage.reflink)
        return self.info(disk_id, snapshot_id)

    async def restore(self, disk_id: str, snapshot_id: str) -> DiskInfo:
        image = self._disk_image(disk_id)
        source = self._snapshot_path(disk_id, snapshot_id)
        if not source.exists():
            raise SnapshotNotFound(f"disk {disk_id!r} has no snapshot {snapshot_id!r}")
        self._refuse_attached(disk_id)
        staged = image.with_name(f".{image.name}.restoring")
        await copy_image(source, staged, self.storage.reflink)
        try:
            async with self.vms.claims:
                self._refuse_attached(disk_id)
                staged.replace(image)
        finally:
            staged.unlink(missing_ok=True)
        return self.vms.disk_info(disk_id)

    async def delete(self, disk_id: str, snapshot_id: str) -> None:
        """Idempotent."""
        self._snapshot_path(disk_id, snapshot_id).unlink(missing_ok=True)

    def delete_all(self, disk_id: str) -> None:
        shutil.rmtree(self.storage.snapshot_dir(check_id("disk_id", disk_id)), ignore_errors=True)

    async def clone(self, disk_id: str, new_disk_id: str, force: bool = False) -> DiskInfo:
        """A new, independent disk with the source's files."""
        target = self.vms.layout.disk_path(check_id("disk_id", new_disk_id))
        if target.exists():
            raise DiskExists(f"disk {new_disk_id!r} already exists")
        async with self._stable(disk_id, force) as image:
            await copy_image(image, target, self.storage.reflink)
        return self.vms.disk_info(new_disk_id)

    def _refuse_attached(self, disk_id: str) -> None:
        owner = self.vms.attached_to(disk_id)
        if owner is not None:
            raise DiskBusy(f"disk {disk_id!r} is attached to vm {owner!r}; stop it before a restore")
