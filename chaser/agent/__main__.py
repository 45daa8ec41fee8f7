"""Entry point: `python3 -m chaser_agent`. Dials the host's socket and reconnects forever.

Reconnecting is what lets a restarted host daemon re-adopt a running sandbox: the daemon re-listens
on the same socket path and the agent finds it within one backoff step.
"""

from __future__ import annotations

import os
import socket
import sys
import time

from .connection import Connection
from .guest_net import configure_from_cmdline
from .protocol import DEFAULT_SOCKET, ENV_SOCKET, ENV_TOKEN
from .transport import ENV_TRANSPORT, serve_forever

BACKOFF_START_S = 0.02
BACKOFF_MAX_S = 0.5


def main() -> None:
    path = os.environ.get(ENV_SOCKET, DEFAULT_SOCKET)
    token = os.environ.get(ENV_TOKEN, "")
    if os.environ.get(ENV_TRANSPORT):  # inside a VM: a virtio-serial port (see transport.py)
        configure_from_cmdline()
        serve_forever(os.environ[ENV_TRANSPORT], token)
    backoff = BACKOFF_START_S
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            time.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)
            continue
        backoff = BACKOFF_START_S
        try:
            Connection(sock, token).serve()
        finally:
            sock.close()
        print("chaser-agent: host connection closed; reconnecting", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
