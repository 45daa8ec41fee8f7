"""One connection to the host: HELLO, then a reader loop that dispatches OPENs to op threads.

Threads: the caller's thread reads frames; each OPEN runs its op on its own thread; every write
goes through `send`, whose lock keeps frames from different threads from interleaving.
"""

from __future__ import annotations

import os
import socket
import threading
import traceback
from typing import Any

from . import AGENT_VERSION
from .channel import Channel
from .errors import BadRequest, OpError
from .ops import OPS
from .protocol import PROTOCOL_VERSION, FrameType, ProtocolError, encode_json, read_frame


class Connection:
    def __init__(self, sock: socket.socket, token: str) -> None:
        self._sock = sock
        self._token = token
        # One writer at a time: frames are written whole, never interleaved.
        self._write_lock = threading.Lock()
        self._channels: dict[int, Channel] = {}
        # Guards `_channels` between the reader (adds, delivers) and op threads (remove on end).
        self._channels_lock = threading.Lock()
        self._alive = True

    def send(self, frame: bytes) -> None:
        with self._write_lock:
            if not self._alive:
                return
            try:
                self._sock.sendall(frame)
            except OSError:
                self._alive = False

    def serve(self) -> None:
        """Run until the host goes away; then cancel every op still running."""
        hello: dict[str, Any] = {
            "version": AGENT_VERSION,
            "protocol": PROTOCOL_VERSION,
            "token": self._token,
            "pid": os.getpid(),
        }
        self.send(encode_json(FrameType.HELLO, 0, hello))
        try:
            while True:
                frame = read_frame(self._sock)
                if frame is None:
                    break
                if frame.type is FrameType.OPEN:
                    self._open(frame.channel, frame.json())
                    continue
                with self._channels_lock:
                    channel = self._channels.get(frame.channel)
                if channel is not None:
                    channel.deliver(frame)
        except (OSError, ProtocolError):
            pass
        finally:
            self._alive = False
            with self._channels_lock:
                channels = list(self._channels.values())
            for channel in channels:
                channel.cancel()

    def _open(self, channel_id: int, body: dict[str, Any]) -> None:
        channel = Channel(channel_id, self.send)
        with self._channels_lock:
            self._channels[channel_id] = channel
        thread = threading.Thread(
            target=self._run_op, args=(channel, body), name=f"op-{channel_id}", daemon=True
        )
        thread.start()

    def _run_op(self, channel: Channel, body: dict[str, Any]) -> None:
        try:
            op = OPS.get(body.get("op", ""))
            if op is None:
                raise BadRequest(f"unknown op {body.get('op')!r}", code="unknown_op")
            result = op(channel, body.get("args") or {})
            channel.close(result=result)
        except OpError as exc:
            channel.close(error=(exc.code, str(exc)))
        except Exception as exc:
            traceback.print_exc()
            channel.close(error=("agent_error", f"{type(exc).__name__}: {exc}"))
        finally:
            with self._channels_lock:
                self._channels.pop(channel.id, None)
