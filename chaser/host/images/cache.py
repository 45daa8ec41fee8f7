"""The image cache: names resolve to root filesystem directories built by images/build-*.sh.

`<cache>/<name>/rootfs`, where `base` is a symlink to the current `base-<recipe hash>`.
OCI references (a registry reference, an OCI layout directory or archive; see `oci.py`) resolve
to `<cache>/oci-<digest>/rootfs`, pulled and unpacked the first time. `resolve` is synchronous:
a first pull inside it blocks the caller, so callers pull ahead (`pull`, the `/images/pull` route).
"""

from __future__ import annotations

from pathlib import Path

from chaser.host.errors import ImageNotFound
from chaser.host.images import oci
from chaser.host.images.prune import mark_used
from chaser.host.layout import check_id


class ImageCache:
    def __init__(self, root: Path, registry_auth: dict[str, tuple[str, str]] | None = None) -> None:
        self.root = root
        self.registry_auth = registry_auth or {}

    def pull(self, reference: str) -> tuple[str, Path]:
        """(manifest digest, rootfs) of an OCI reference, pulling what is missing."""
        return oci.pull(reference, self.root, self.registry_auth)

    def resolve(self, name: str) -> Path:
        """The image's rootfs, with symlinks resolved so a rebuild never moves a running VM's root."""
        if oci.is_reference(name):
            known = None if name.startswith("/") else oci.cached(name, self.root)
            return (known or self.pull(name)[1]).resolve()
        check_id("image", name)
        rootfs = self.root / name / "rootfs"
        if not rootfs.is_dir():
            raise ImageNotFound(f"image {name!r} is not in {self.root} (run images/build-base.sh)")
        resolved = rootfs.resolve()
        mark_used(resolved.parent)
        return resolved

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if (p / "rootfs").is_dir() and not p.name.startswith(".")
        )
