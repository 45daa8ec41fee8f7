"""Pure: the bounded output of one terminal, addressed by absolute byte offsets.

Offsets count every byte the terminal ever produced, so a reattaching client can say "I have
everything before N" and get the rest, as long as it is still retained.
"""

from __future__ import annotations


class ReplayBuffer:
    def __init__(self, limit: int = 256 * 1024) -> None:
        self.limit = limit
        self._data = bytearray()
        self._start = 0  # absolute offset of _data[0]

    @property
    def start(self) -> int:
        """Offset of the oldest byte still retained."""
        return self._start

    @property
    def end(self) -> int:
        """Offset just past the newest byte: the total produced so far."""
        return self._start + len(self._data)

    def append(self, chunk: bytes) -> None:
        self._data += chunk
        # Trim in steps of at least a quarter of the limit, so a stream of small appends does
        # not move the whole buffer every time.
        excess = len(self._data) - self.limit
        if excess > 0 and (excess >= self.limit // 4 or len(chunk) >= self.limit):
            del self._data[:excess]
            self._start += excess

    def since(self, offset: int) -> tuple[int, bytes]:
        """(first offset returned, bytes from there to the end). Asking for bytes already dropped
        returns what is left, from `start`; asking past the end returns nothing."""
        offset = min(max(offset, self._start, self.end - self.limit), self.end)
        return offset, bytes(self._data[offset - self._start :])
