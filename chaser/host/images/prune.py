"""Old guest images and QEMU templates are deleted once nothing has used them for a while.

Every recipe change (an image script, the package list) builds a new `<name>-<hash>` directory and
re-points the alias `<name>`; every agent change makes a new agent disk and new template snapshots
(each holding a RAM file the size of the VM's memory). Without pruning, the cache only grows.

What counts as in use:
- the targets of the cache's aliases (`base`, `browser`, …) and the VM image of each (`vm.<target>`);
- anything whose `.last-used` marker (or, for a file, its mtime) is younger than the retention:
  `mark_used` is called when an image is resolved for a VM and when a template is restored, and the
  daemon re-marks what its live VMs use every hour, so a long-lived session keeps its image.

Entries whose names start with `.` (builds in progress, locks) and pulled OCI images (`oci-*`,
referenced by workspaces by digest) are never pruned here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = ".last-used"
DAY_S = 86_400.0


def mark_used(path: Path) -> None:
    """Record that `path` (an image or template directory, or a file) was just used."""
    with contextlib.suppress(OSError):
        if path.is_dir():
            (path / MARKER).touch()
        else:
            os.utime(path)


def last_used(path: Path) -> float:
    """When `path` was last used: its marker's mtime, else its own (when it was built)."""
    for candidate in (path / MARKER, path):
        with contextlib.suppress(OSError):
            return candidate.stat().st_mtime
    return 0.0


def current_images(cache: Path) -> set[Path]:
    """Image directories the cache's aliases point at, with the VM image built from each."""
    current: set[Path] = set()
    if not cache.is_dir():
        return current
    for alias in cache.iterdir():
        if alias.is_symlink() and not alias.name.startswith((".", "vm.")):
            target = alias.resolve()
            current.add(target)
            vm_alias = cache / f"vm.{target.name}"
            if vm_alias.is_symlink():
                current.add(vm_alias.resolve())
    return current


def stale(cache: Path, max_age_s: float, now: float | None = None) -> list[Path]:
    """What `prune` would delete: old image directories, and old templates and agent disks of
    the current VM images. Reads only."""
    now = time.time() if now is None else now
    cutoff = now - max_age_s
    current = current_images(cache)
    found: list[Path] = []
    if not cache.is_dir():
        return found
    for entry in sorted(cache.iterdir()):
        if entry.name.startswith((".", "oci-")) or entry.is_symlink() or not entry.is_dir():
            continue
        if entry.resolve() in current:
            templates = entry / "templates"
            if templates.is_dir():
                found += [
                    t
                    for t in sorted(templates.iterdir())
                    if not t.name.startswith(".") and last_used(t) < cutoff
                ]
            continue
        if _newest_use(entry) < cutoff:
            found.append(entry)
    return found


def prune(cache: Path, max_age_s: float, now: float | None = None) -> list[Path]:
    """Delete what `stale` names, then aliases left dangling. Returns what was deleted."""
    deleted: list[Path] = []
    for path in stale(cache, max_age_s, now):
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            log.warning("images: cannot prune %s: %r", path, exc)
            continue
        deleted.append(path)
    for alias in cache.iterdir() if cache.is_dir() else []:
        if alias.is_symlink() and not alias.exists():
            with contextlib.suppress(OSError):
                alias.unlink()
    if deleted:
        log.info("images: pruned %d unused image(s)/template(s): %s", len(deleted), [p.name for p in deleted])
    return deleted


def _newest_use(image_dir: Path) -> float:
    """An old image directory is in use if it or any template inside it was used lately."""
    newest = last_used(image_dir)
    templates = image_dir / "templates"
    if templates.is_dir():
        for t in templates.iterdir():
            newest = max(newest, last_used(t))
    return newest
