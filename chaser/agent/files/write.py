"""`write_file`: DATA chunks then EOF → the file, written atomically (temp file + rename).

Args: path (absolute), mode (default 0o644), user (optional: owner of the file and of the parent
directories this op creates). Result: {"path", "size"}. A host CLOSE before EOF abandons the write
and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

from ..channel import Channel
from ..errors import Cancelled, IsADirectory, NotADirectory
from ..process.identity import resolve
from ..protocol import FrameType
from .paths import absolute, os_errors


def write_file(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    path = absolute(args.get("path"))
    mode = int(args.get("mode") or 0o644)
    owner = resolve(args["user"]) if args.get("user") else None
    parent = os.path.dirname(path)
    with os_errors(path):
        if os.path.isdir(path):
            raise IsADirectory(f"{path}: is a directory")
        _make_parents(parent, owner.uid if owner else None, owner.gid if owner else None)
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(path)}.", suffix=".part")
    size = 0
    try:
        with os_errors(path), os.fdopen(fd, "wb") as out:
            while True:
                frame = channel.read_input()
                if frame is None:
                    continue
                if frame.type is FrameType.DATA:
                    out.write(frame.payload)
                    size += len(frame.payload)
                elif frame.type is FrameType.EOF:
                    break
                else:
                    raise Cancelled("write cancelled by the host")
            os.fchmod(out.fileno(), mode)
            if owner is not None:
                os.fchown(out.fileno(), owner.uid, owner.gid)
        with os_errors(path):
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return {"path": path, "size": size}


def _make_parents(directory: str, uid: int | None, gid: int | None) -> None:
    missing: list[str] = []
    while directory and not os.path.isdir(directory):
        if os.path.lexists(directory):
            raise NotADirectory(f"{directory}: exists and is not a directory")
        missing.append(directory)
        directory = os.path.dirname(directory)
    for created in reversed(missing):
        os.makedirs(created, exist_ok=True)
        if uid is not None and gid is not None:
            os.chown(created, uid, gid)
