"""One open channel on the agent side: the host's frames for it in an inbox, ours out via the link."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Callable
from typing import Any

from .protocol import DATA_CHUNK, Frame, FrameType, encode, encode_json, error_body


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

    # inbound (reader thread)
    def deliver(self, frame: Frame) -> None:
        # The frame first: an op reading its inbox sees the host's CLOSE (and its payload)
        # before anything its cancel callback puts there.
        self.inbox.put(frame)
        if frame.type is FrameType.CLOSE:
            self.cancel()

    def cancel(self) -> None:
        if self.cancelled.is_set():
            return
        self.cancelled.set()
        callback = self.on_cancel
        if callback is not None:
            with contextlib.suppress(Exception):  # the op is ending anyway
                callback()

    # outbound (op thread)
    def event(self, body: dict[str, Any]) -> None:
        self._send(encode_json(FrameType.EVENT, self.id, body))

    def data(self, payload: bytes) -> None:
        for start in range(0, len(payload), DATA_CHUNK):
            self._send(encode(FrameType.DATA, self.id, payload[start : start + DATA_CHUNK]))

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
