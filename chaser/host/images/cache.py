"""The image cache: names resolve to root filesystem directories built by images/build-*.sh.

`<cache>/<name>/rootfs`, where `base` is a symlink to the current `base-<recipe hash>`.
"""

from __future__ import annotations

from pathlib import Path

from chaser.host.errors import ImageNotFound
from chaser.host.layout import check_id


class ImageCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def resolve(self, name: str) -> Path:
        """The image's rootfs, with symlinks resolved so a rebuild never moves a running VM's root."""
        check_id("image", name)
        rootfs = self.root / name / "rootfs"
        if not rootfs.is_dir():
            raise ImageNotFound(f"image {name!r} is not in {self.root} (run images/build-base.sh)")
        return rootfs.resolve()

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if (p / "rootfs").is_dir() and not p.name.startswith(".")
        )
