"""Agent transports besides the default unix socket: a virtio-serial port, for VMs without vsock.

Selected with CHASER_AGENT_TRANSPORT=virtio-serial:<port name> (chaser-init sets it from the kernel
command line). The port is opened once and kept: the kernel lets one process hold it. How a
virtio-serial port behaves (drivers/char/virtio_console.c) is what makes this loop work:
- a write blocks until a host has the chardev socket open, so HELLO goes out when the host connects;
- a read returns end-of-file when the host disconnects (also after a snapshot restore, whose new
  QEMU has no client yet), so `Connection.serve` returns and we start over with a fresh HELLO.

`TOKEN` is the token the next HELLO carries; the `vm_refresh` op rotates it after a restore.
"""

from __future__ import annotations

import glob
import os
import sys
import time
from typing import Any, cast

ENV_TRANSPORT = "CHASER_AGENT_TRANSPORT"
TOKEN = [""]


class PortStream:
    """The two socket methods `Connection` and `read_frame` use, over a character device."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def recv(self, size: int) -> bytes:
        return os.read(self._fd, size)


def find_port(name: str) -> str | None:
    direct = f"/dev/virtio-ports/{name}"  # made by udev, which a chaser VM does not run
    if os.path.exists(direct):
        return direct
    for entry in glob.glob("/sys/class/virtio-ports/*/name"):
        try:
            with open(entry) as f:
                if f.read().strip() == name:
                    return "/dev/" + os.path.basename(os.path.dirname(entry))
        except OSError:
            continue
    return None


def serve_forever(spec: str, token: str) -> None:
    from .connection import Connection  # late: keeps this module importable on its own

    kind, _, name = spec.partition(":")
    if kind != "virtio-serial" or not name:
        raise SystemExit(f"chaser-agent: unknown transport {spec!r}")
    TOKEN[0] = token
    path = find_port(name)
    while path is None:
        time.sleep(0.05)
        path = find_port(name)
    fd = os.open(path, os.O_RDWR)
    while True:
        try:
            Connection(cast(Any, PortStream(fd)), TOKEN[0]).serve()
        except OSError as exc:
            print(f"chaser-agent: port {path}: {exc!r}", file=sys.stderr, flush=True)
            time.sleep(0.1)
