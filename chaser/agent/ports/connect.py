"""`connect`: a byte tunnel to 127.0.0.1:<port> inside the sandbox, no guest networking needed.

Args: port. A refused or failed connect ends the op with `port_refused`. Once connected the
agent sends EVENT {"type": "connected"}; then the host's DATA goes to the socket, the socket's
bytes come back as DATA, EOF either way is a half close (shutdown), and the op ends when both
directions are done or the host sends CLOSE.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from ..channel import Channel
from ..errors import BadRequest, OpError
from ..protocol import FrameType

CONNECT_TIMEOUT_S = 5.0
READ_CHUNK = 64 * 1024


class PortRefused(OpError):
    code = "port_refused"


def connect(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    port = args.get("port")
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise BadRequest("`port` must be an integer in 1..65535")
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise PortRefused(f"127.0.0.1:{port}: {exc.strerror or exc}") from None
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def shut() -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    channel.on_cancel = shut
    channel.event({"type": "connected"})
    reader = threading.Thread(target=_copy_out, args=(channel, sock), daemon=True)
    reader.start()
    received = 0
    try:
        while not channel.cancelled.is_set():
            frame = channel.read_input(timeout=1.0)
            if frame is None:
                continue  # after the server's EOF the host closes the channel; wait for that
            if frame.type is FrameType.DATA:
                try:
                    sock.sendall(frame.payload)
                    received += len(frame.payload)
                except OSError:
                    break
            elif frame.type is FrameType.EOF:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
                reader.join()
                break
            elif frame.type is FrameType.CLOSE:
                break
    finally:
        shut()
        reader.join(timeout=2.0)
        sock.close()
    return {"sent": received}


def _copy_out(channel: Channel, sock: socket.socket) -> None:
    while True:
        try:
            chunk = sock.recv(READ_CHUNK)
        except OSError:
            chunk = b""
        if not chunk:
            channel.eof()
            return
        channel.data(chunk)
