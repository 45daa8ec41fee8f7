"""`read_file`: EVENT {"type": "stat", "size"} then the bytes as DATA, then CLOSE {"size"}.

Args: path (absolute), max_bytes. Errors: file_not_found, is_a_directory, permission_denied,
too_large (the file, or what it grew to while being read, exceeds max_bytes).
"""

from __future__ import annotations

import os
import stat
from typing import Any

from ..channel import Channel
from ..errors import Cancelled, IsADirectory, TooLarge
from ..protocol import DATA_CHUNK
from .paths import absolute, os_errors


def read_file(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    path = absolute(args.get("path"))
    max_bytes = int(args.get("max_bytes") or 16 << 20)
    with os_errors(path):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        os.close(fd)
        raise IsADirectory(f"{path}: is a directory")
    with os.fdopen(fd, "rb", buffering=0) as source:
        if info.st_size > max_bytes:
            raise TooLarge(f"{path}: {info.st_size} bytes exceeds the limit of {max_bytes}")
        channel.event({"type": "stat", "size": info.st_size})
        size = 0
        while True:
            if channel.cancelled.is_set():
                raise Cancelled("read cancelled by the host")
            with os_errors(path):
                chunk = source.read(DATA_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"{path}: grew past the limit of {max_bytes} bytes while read")
            channel.data(chunk)
    return {"path": path, "size": size}
