"""Apply OCI image layers onto a root filesystem directory, safely.

- Compression by magic bytes: gzip, zstd, or a plain tar (the media types say the same).
- Whiteouts: `.wh.<name>` removes `<name>` from the layers below; `.wh..wh..opq` empties its
  directory of what the layers below put there.
- Safe: member paths are normalised and refused if they climb out of the root (`..`); nothing is
  written through a symlink (a path whose parent is a symlink is refused); hard links must point
  inside the root; device nodes and FIFOs are skipped (the sandbox's /dev is its own).
"""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import IO, cast

import zstandard

from chaser.host.errors import DaemonError


class ImageInvalid(DaemonError):
    """The image's content is malformed or unsafe (a blob digest mismatch, a path escaping the root)."""

    code = "image_invalid"
    status = 400


WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"


def _open_layer(path: Path) -> IO[bytes]:
    with open(path, "rb") as probe:
        magic = probe.read(4)
    if magic[:2] == b"\x1f\x8b":
        return cast(IO[bytes], gzip.open(path, "rb"))
    if magic == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    return open(path, "rb")


def _clean(name: str) -> str:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ImageInvalid(f"layer member {name!r} escapes the root filesystem")
    return "/".join(parts)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)


def _check_parents(root: Path, rel: str) -> Path:
    """The member's host path; refused if any existing parent is a symlink (or not a directory)."""
    current = root
    parts = rel.split("/")
    for part in parts[:-1]:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            current.mkdir(mode=0o755)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise ImageInvalid(f"layer member {rel!r} would be written through the symlink {part!r}")
        if not stat.S_ISDIR(st.st_mode):
            raise ImageInvalid(f"layer member {rel!r}: {part!r} is not a directory")
    return root / rel


def apply_layer(root: Path, layer: Path) -> None:
    created: set[str] = set()
    with _open_layer(layer) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            rel = _clean(member.name)
            if not rel:
                continue
            base = rel.rsplit("/", 1)[-1]
            parent_rel = rel.rsplit("/", 1)[0] if "/" in rel else ""
            if base == OPAQUE:
                folder = _check_parents(root, f"{parent_rel}/x" if parent_rel else "x").parent
                if folder.is_dir():
                    for child in folder.iterdir():
                        child_rel = f"{parent_rel}/{child.name}" if parent_rel else child.name
                        if child_rel not in created:
                            _remove(child)
                continue
            if base.startswith(WHITEOUT):
                hidden = base[len(WHITEOUT) :]
                target = _check_parents(root, f"{parent_rel}/{hidden}" if parent_rel else hidden)
                if target.exists() or target.is_symlink():
                    _remove(target)
                continue
            if member.ischr() or member.isblk() or member.isfifo():
                continue
            path = _check_parents(root, rel)
            existing = path.is_symlink() or path.exists()
            if member.isdir():
                if existing and (path.is_symlink() or not path.is_dir()):
                    _remove(path)
                path.mkdir(exist_ok=True)
            else:
                if existing:
                    _remove(path)
                if member.issym():
                    os.symlink(member.linkname, path)
                elif member.islnk():
                    source = _check_parents(root, _clean(member.linkname))
                    if not (source.is_symlink() or source.exists()):
                        raise ImageInvalid(f"hard link {rel!r} points at missing {member.linkname!r}")
                    os.link(source, path, follow_symlinks=False)
                elif member.isreg():
                    data = tar.extractfile(member)
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        if data is not None:
                            shutil.copyfileobj(data, out, 1024 * 1024)
                else:
                    continue
            created.add(rel)
            if not member.issym():
                os.lchown(path, member.uid, member.gid)
                if not member.islnk():
                    os.chmod(path, member.mode & 0o7777)
                    os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
            else:
                os.lchown(path, member.uid, member.gid)
