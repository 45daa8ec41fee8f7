"""One open channel on the agent side: the host's frames for it in an inbox, ours out via the link.

DATA is sent against a window of credit (see protocol.py): `data` blocks while it is used up, until
the host grants more or the channel is cancelled (then the rest is dropped: nobody reads it).
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Callable
from typing import Any

from .protocol import (
    DATA_CHUNK,
    WINDOW,
    WINDOW_INITIAL,
    Frame,
    FrameType,
    ProtocolError,
    encode,
    encode_json,
    error_body,
)


class Channel:
    def __init__(self, channel_id: int, send: Callable[[bytes], None]) -> None:
        self.id = channel_id
        self._send = send
        self.inbox: queue.Queue[Frame] = queue.Queue()
        self.cancelled = threading.Event()
        # Set by the op (e.g. exec kills its process group); called from the reader thread.
        self.on_cancel: Callable[[], None] | None = None
        self._closed = False
        # Guards `_closed` so a cancel and the op's own CLOSE never both send CLOSE.
        self._close_lock = threading.Lock()
        self._credit = WINDOW_INITIAL
        self._credit_changed = threading.Condition()
        self._data_stopped = False  # see stop_data

    # inbound (reader thread)
    def deliver(self, frame: Frame) -> None:
        if frame.type is FrameType.WINDOW:
            if len(frame.payload) != WINDOW.size:
                raise ProtocolError(f"WINDOW payload of {len(frame.payload)} bytes")
            self.grant(WINDOW.unpack(frame.payload)[0])
            return
        # The frame first: an op reading its inbox sees the host's CLOSE (and its payload)
        # before anything its cancel callback puts there.
        self.inbox.put(frame)
        if frame.type is FrameType.CLOSE:
            self.cancel()

    def grant(self, granted: int) -> None:
        with self._credit_changed:
            self._credit += granted
            self._credit_changed.notify_all()

    def stop_data(self) -> None:
        """No more DATA on this channel (a pty taken over by another socket); wakes a waiting `data`."""
        with self._credit_changed:
            self._data_stopped = True
            self._credit_changed.notify_all()

    def cancel(self) -> None:
        if self.cancelled.is_set():
            return
        self.cancelled.set()
        with self._credit_changed:
            self._credit_changed.notify_all()
        callback = self.on_cancel
        if callback is not None:
            with contextlib.suppress(Exception):  # the op is ending anyway
                callback()

    # outbound (op thread)
    def event(self, body: dict[str, Any]) -> None:
        self._send(encode_json(FrameType.EVENT, self.id, body))

    def data(self, payload: bytes) -> bool:
        """Send `payload`, waiting for credit as needed. False: cancelled first (the rest dropped)."""
        for start in range(0, len(payload), DATA_CHUNK):
            chunk = payload[start : start + DATA_CHUNK]
            with self._credit_changed:
                while self._credit <= 0 and not (self.cancelled.is_set() or self._data_stopped):
                    self._credit_changed.wait()
                if self.cancelled.is_set() or self._data_stopped:
                    return False
                self._credit -= len(chunk)
            self._send(encode(FrameType.DATA, self.id, chunk))
        return True

    def eof(self) -> None:
        self._send(encode(FrameType.EOF, self.id))

    def close(self, result: Any = None, error: tuple[str, str] | None = None) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        body = error_body(*error) if error else {"result": result if result is not None else {}}
        self._send(encode(FrameType.CLOSE, self.id, json.dumps(body).encode()))

    def read_input(self, timeout: float | None = None) -> Frame | None:
        """Next DATA/EOF/CLOSE frame from the host, or None on timeout."""
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return None
