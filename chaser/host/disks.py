"""Workspace disks: sparse ext4 image files, loop-mounted only while attached to a VM.

- Create: `truncate` (sparse) + `mkfs.ext4` with lazy inode-table and journal init, so a 10 GiB
  disk takes well under a second and a few MB of real space. The root directory of the filesystem
  (the sandbox's /workspace) is owned by uid/gid 1000 (`user` in the base image), mode 0755:
  the default user owns its workspace like a home directory; root can write anyway.
- Mount: `mount -o loop,noinit_itable,discard`. `noinit_itable` stops the kernel from zeroing
  inode tables in the background (they are already zero in a fresh sparse file), and `discard`
  punches holes for deleted files, so `allocated_bytes` (st_blocks * 512) tracks real use.
  Loop devices beyond the 8 /dev/loopN that exist at boot are created on demand by
  LOOP_CTL_GET_FREE on /dev/loop-control (devtmpfs adds the node); autoclear frees them at umount.
- Unmount at VM stop flushes everything to the image file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path

from chaser.host.commands import run as _run
from chaser.host.errors import DaemonError, DiskExists, DiskNotFound
from chaser.host.layout import Layout, check_id
from chaser.host.wire import DiskInfo

WORKSPACE_OWNER = "1000:1000"
MIN_SIZE_BYTES = 16 * 1024 * 1024


class DiskFailed(DaemonError):
    code = "disk_failed"


class DiskStore:
    def __init__(self, layout: Layout) -> None:
        self._layout = layout

    def exists(self, disk_id: str) -> bool:
        return self._layout.disk_path(check_id("disk_id", disk_id)).exists()

    def ids(self) -> list[str]:
        return sorted(p.name.removesuffix(".ext4") for p in self._layout.disks.glob("*.ext4"))

    def info(self, disk_id: str, attached_to: str | None = None) -> DiskInfo:
        try:
            st = self._layout.disk_path(check_id("disk_id", disk_id)).stat()
        except FileNotFoundError:
            raise DiskNotFound(f"no disk {disk_id!r}") from None
        return DiskInfo(
            disk_id=disk_id,
            size_bytes=st.st_size,
            allocated_bytes=st.st_blocks * 512,
            attached_to=attached_to,
        )

    async def create(self, disk_id: str, size_bytes: int) -> DiskInfo:
        """Idempotent for the same size; `disk_exists` (409) for a different one."""
        path = self._layout.disk_path(check_id("disk_id", disk_id))
        if path.exists():
            if path.stat().st_size != size_bytes:
                raise DiskExists(f"disk {disk_id!r} exists with a different size")
            return self.info(disk_id)
        size = max(size_bytes, MIN_SIZE_BYTES)
        tmp = path.with_name(f".{path.name}.creating")
        try:
            with open(tmp, "wb") as image:
                image.truncate(size)
            code, out = await _run(
                "mkfs.ext4", "-q", "-F", "-m", "0", "-L", "workspace",
                "-E", f"lazy_itable_init=1,lazy_journal_init=1,root_owner={WORKSPACE_OWNER}",
                str(tmp),
            )  # fmt: skip
            if code != 0:
                raise DiskFailed(f"mkfs.ext4 failed: {out}")
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return self.info(disk_id)

    async def delete(self, disk_id: str) -> None:
        """Idempotent. The caller checks that no VM has it attached."""
        check_id("disk_id", disk_id)
        await self.unmount(disk_id)
        with contextlib.suppress(FileNotFoundError):
            self._layout.disk_path(disk_id).unlink()
        shutil.rmtree(self._layout.root / "snapshots" / disk_id, ignore_errors=True)  # its snapshots

    async def mount(self, disk_id: str) -> Path:
        image = self._layout.disk_path(check_id("disk_id", disk_id))
        if not image.exists():
            raise DiskNotFound(f"no disk {disk_id!r}")
        target = self._layout.mount_dir(disk_id)
        target.mkdir(parents=True, exist_ok=True)
        if target in mounted_under(self._layout.mnt):
            return target
        code, out = await _run(
            "mount", "-t", "ext4", "-o", "loop,noinit_itable,discard", str(image), str(target)
        )
        if code != 0:
            raise DiskFailed(f"mount of disk {disk_id!r} failed: {out}")
        return target

    async def unmount(self, disk_id: str) -> None:
        target = self._layout.mount_dir(disk_id)
        await unmount_path(target)
        with contextlib.suppress(OSError):
            target.rmdir()


async def unmount_path(target: Path) -> None:
    """Unmount, retrying while the just-killed sandbox's gofer lets go; lazy as the last resort."""
    for attempt in range(20):
        if target not in mounted_under(target.parent):
            return
        code, out = await _run("umount", str(target))
        if code == 0:
            return
        await asyncio.sleep(0.05 * (attempt + 1))
    code, out = await _run("umount", "-l", str(target))
    if code != 0 and target in mounted_under(target.parent):
        raise DiskFailed(f"umount {target} failed: {out}")


def mounted_under(parent: Path) -> set[Path]:
    """Mount points directly or deeper under `parent`, from /proc/self/mountinfo."""
    prefix = str(parent.resolve()).rstrip("/") + "/"
    points: set[Path] = set()
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            point = _unescape(line.split()[4])
            if point.startswith(prefix):
                points.add(Path(point))
    return points


def _unescape(field: str) -> str:
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)
