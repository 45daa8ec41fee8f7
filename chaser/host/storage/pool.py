"""The storage pool: where workspace disks and their snapshots live, and whether copies are reflinks.

At daemon start (`open_pool`, before anything touches `state_dir/disks`):
1. If `state_dir/disks` already sits on a filesystem with reflinks (XFS with reflink=1, btrfs),
   nothing else is needed: snapshots and clones there are reflinks.
2. Otherwise (ext4, the usual case) the pool is an XFS filesystem in a sparse file,
   `state_dir/pool.xfs` (made once with `mkfs.xfs -m reflink=1`, default 256 GiB apparent size,
   a few MB real), loop-mounted at `state_dir/pool` with `discard` so deleted images give their
   space back to the host. `state_dir/disks` and `state_dir/snapshots` become symlinks to
   `pool/disks` and `pool/snapshots`, so every other module keeps using the same paths.
   After a crash the mount is still there and is reused; after a reboot it is mounted again.
3. Disk images already in a plain `state_dir/disks` are moved into the pool (sparse copies)
   the first time. If a VM record still refers to one of them, the move waits for a start
   when none does, and this start runs without the pool.
4. If the pool cannot be made (no mkfs.xfs, no loop devices) or reflinks still fail, the daemon
   says so in one log line and copies become sparse full copies (seconds per GiB).

Also at start: thaw every workspace mount under `state_dir/mnt`, in case a daemon died between
freezing one for a snapshot and thawing it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from chaser.host.disks import mounted_under
from chaser.host.layout import Layout
from chaser.host.storage.copy import reflink_works

log = logging.getLogger(__name__)

DEFAULT_POOL_BYTES = 256 * 1024**3


@dataclass(frozen=True)
class Storage:
    """Where disk images and snapshots are, and how they are copied."""

    disks: Path
    snapshots: Path
    reflink: bool
    kind: str  # "native" (the data dir's own filesystem) | "xfs-loop" | "plain"

    def snapshot_dir(self, disk_id: str) -> Path:
        return self.snapshots / disk_id


def _run(*argv: str) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, repr(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


def _is_mount_point(path: Path) -> bool:
    return path.resolve() in mounted_under(path.resolve().parent)


def thaw_all(mnt: Path) -> None:
    """Undo a freeze a crashed daemon may have left on a workspace mount (harmless otherwise)."""
    if not mnt.is_dir():
        return
    for point in mounted_under(mnt):
        _run("fsfreeze", "-u", str(point))


def _vm_disk_ids(layout: Layout) -> set[str]:
    ids: set[str] = set()
    for state in layout.vms.glob("*/state.json") if layout.vms.is_dir() else []:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            disk_id = json.loads(state.read_text())["spec"].get("disk_id")
            if disk_id:
                ids.add(disk_id)
    return ids


def _mount_pool(image: Path, point: Path, size_bytes: int) -> str | None:
    """Make (once) and mount (if not mounted) the XFS pool. Returns why not, or None."""
    point.mkdir(parents=True, exist_ok=True)
    if _is_mount_point(point):
        return None
    if not image.exists():
        if shutil.which("mkfs.xfs") is None:
            return "mkfs.xfs is not installed (apt-get install xfsprogs)"
        tmp = image.with_name(f".{image.name}.creating")
        with open(tmp, "wb") as sparse:
            sparse.truncate(size_bytes)
        code, out = _run("mkfs.xfs", "-q", "-f", "-m", "reflink=1", "-L", "chaser-pool", str(tmp))
        if code != 0:
            tmp.unlink(missing_ok=True)
            return f"mkfs.xfs failed: {out}"
        tmp.rename(image)
    code, out = _run("mount", "-t", "xfs", "-o", "loop,discard,noatime", str(image), str(point))
    if code != 0:
        return f"mount of {image} failed: {out}"
    return None


def _move_into(src: Path, dst: Path) -> None:
    """Move a plain directory's contents into the pool (another filesystem), sparse, then drop it."""
    dst.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        if entry.name.startswith("."):  # half-made files of a crashed create or copy
            continue
        code, out = _run("cp", "-a", "--sparse=always", "--", str(entry), str(dst / entry.name))
        if code != 0:
            raise OSError(f"moving {entry} into the pool failed: {out}")
    shutil.rmtree(src)


def open_pool(layout: Layout, size_bytes: int = DEFAULT_POOL_BYTES, mode: str = "auto") -> Storage:
    """Set up `layout.disks` and the snapshots directory; see the module docstring. `mode`:
    "auto" (reflinks natively or through the XFS pool) or "off" (no pool: whatever the data
    directory's filesystem does)."""
    root = layout.root
    root.mkdir(parents=True, exist_ok=True)
    thaw_all(layout.mnt)
    snapshots = root / "snapshots"
    pool_point, pool_image = root / "pool", root / "pool.xfs"
    pooled = layout.disks.is_symlink()
    if mode == "auto" and not pooled and pool_image.exists():
        pooled = True  # the pool exists but the links do not yet (a crash during the first move)
    if pooled or mode == "auto":
        if not pooled:
            layout.disks.mkdir(parents=True, exist_ok=True)
            if reflink_works(layout.disks):
                snapshots.mkdir(exist_ok=True)
                log.info("storage: %s has reflinks: snapshots and clones are reflink copies", layout.disks)
                return Storage(layout.disks, snapshots, reflink=True, kind="native")
        busy = {p.name for p in layout.disks.glob("*.ext4")} if not layout.disks.is_symlink() else set()
        busy &= {f"{d}.ext4" for d in _vm_disk_ids(layout)}
        why = (
            f"disks {sorted(busy)} belong to VMs and cannot move into the pool yet" if busy else None
        ) or _mount_pool(pool_image, pool_point, size_bytes)
        if why is None and not reflink_works(pool_point):
            why = f"the pool at {pool_point} does not do reflinks"
        if why is None:
            for name in ("disks", "snapshots"):
                link, target = root / name, pool_point / name
                target.mkdir(exist_ok=True)
                if link.is_symlink():
                    continue
                if link.is_dir():
                    _move_into(link, target)
                link.symlink_to(target)
            log.info(
                "storage: reflink pool %s (XFS in %s, %d GiB sparse): snapshots and clones are reflinks",
                pool_point, pool_image, size_bytes // 1024**3,
            )  # fmt: skip
            return Storage(layout.disks, snapshots, reflink=True, kind="xfs-loop")
        if layout.disks.is_symlink():
            raise RuntimeError(f"storage: the disks live in the pool, but it cannot be mounted: {why}")
        log.warning("storage: no reflink pool (%s): snapshots and clones are sparse full copies", why)
    layout.disks.mkdir(parents=True, exist_ok=True)
    snapshots.mkdir(exist_ok=True)
    reflink = reflink_works(layout.disks)
    if not reflink and mode != "auto":
        log.warning("storage: pool off, %s has no reflinks: snapshots and clones are sparse full copies",
                    layout.disks)  # fmt: skip
    return Storage(layout.disks, snapshots, reflink=reflink, kind="native" if reflink else "plain")
