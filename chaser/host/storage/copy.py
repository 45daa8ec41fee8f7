"""Copy an image file: a reflink where the filesystem has them, else a sparse full copy.

A reflink is the FICLONE ioctl (what `cp --reflink=always` does): the new file shares every
extent with the source, so it costs a few milliseconds and no data blocks until one side is
written. The fallback is `cp --sparse=always`, which reads everything and skips zero runs.
Both write to a temporary name beside the target and rename it into place, so a crash never
leaves a half-copied image under a real name.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from pathlib import Path

from chaser.host.errors import DaemonError

FICLONE = 0x40049409  # _IOW(0x94, 9, int)


class CopyFailed(DaemonError):
    code = "copy_failed"


def reflink(src: Path, dst: Path) -> None:
    """Raises OSError (EOPNOTSUPP, EXDEV, ...) when the filesystem cannot share the extents."""
    with open(src, "rb") as source, open(dst, "xb") as target:
        fcntl.ioctl(target.fileno(), FICLONE, source.fileno())


def reflink_works(directory: Path) -> bool:
    """Try a reflink of a small probe file in `directory`."""
    probe, clone = directory / ".reflink-probe", directory / ".reflink-probe.clone"
    try:
        probe.write_bytes(b"chaser reflink probe\n" * 256)
        reflink(probe, clone)
        return clone.read_bytes() == probe.read_bytes()
    except OSError:
        return False
    finally:
        for path in (probe, clone):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _temp_for(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.copying")


async def copy_image(src: Path, dst: Path, use_reflink: bool) -> None:
    """Copy `src` to `dst` (replacing it atomically). Raises CopyFailed."""
    tmp = _temp_for(dst)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        if use_reflink:
            try:
                await asyncio.to_thread(reflink, src, tmp)
            except OSError as exc:
                raise CopyFailed(f"reflink copy of {src.name} failed: {exc}") from exc
        else:
            proc = await asyncio.create_subprocess_exec(
                "cp", "--sparse=always", "--", str(src), str(tmp),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            out, _ = await proc.communicate()
            if proc.returncode != 0:
                raise CopyFailed(f"copy of {src.name} failed: {out.decode(errors='replace').strip()}")
        os.replace(tmp, dst)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
