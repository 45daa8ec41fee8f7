"""Pure (plus a condition variable): the numbered output events of one background command.

Events are `{"seq", "type": "stdout"|"stderr", "data"}` and finally `{"seq", "type": "exit",
"exit_code"}`. Sequence numbers start at 1 and never repeat, so `after(seq)` resumes a reader.
The log holds at most `limit` bytes of data; the oldest events are dropped first, and a reader
that asks for dropped events gets one `{"type": "dropped", "seq": <last dropped>, "count"}` marker.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

EVENT_OVERHEAD = 32  # bytes charged per event on top of its data, so empty events still count


class EventLog:
    def __init__(self, limit: int = 1 << 20) -> None:
        self.limit = limit
        self._events: deque[dict[str, Any]] = deque()
        self._bytes = 0
        self._seq = 0
        self._dropped_through = 0  # every seq <= this has been dropped
        self.finished = False
        # Wakes readers waiting for events; guards every field above.
        self._cond = threading.Condition()

    @property
    def last_seq(self) -> int:
        return self._seq

    def append(self, type_: str, data: str) -> int | None:
        """Add an output event; None once the log is finished (late output of a grandchild)."""
        with self._cond:
            if self.finished:
                return None
            self._seq += 1
            self._events.append({"seq": self._seq, "type": type_, "data": data})
            self._bytes += len(data.encode()) + EVENT_OVERHEAD
            while self._bytes > self.limit and len(self._events) > 1:
                dropped = self._events.popleft()
                self._bytes -= len(dropped.get("data", "").encode()) + EVENT_OVERHEAD
                self._dropped_through = dropped["seq"]
            self._cond.notify_all()
            return self._seq

    def finish(self, exit_code: int | None) -> None:
        with self._cond:
            if self.finished:
                return
            self._seq += 1
            self._events.append({"seq": self._seq, "type": "exit", "exit_code": exit_code})
            self.finished = True
            self._cond.notify_all()

    def after(self, seq: int) -> list[dict[str, Any]]:
        with self._cond:
            out: list[dict[str, Any]] = []
            if seq < self._dropped_through:
                out.append(
                    {"seq": self._dropped_through, "type": "dropped", "count": self._dropped_through - seq}
                )
            out.extend(e for e in self._events if e["seq"] > seq)
            return out

    def wait(self, seq: int, timeout: float) -> bool:
        """Block until there is an event after `seq` (or the log is finished); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._seq > seq or self.finished, timeout)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()
