"""Files: upload to and download from a sandbox (16 MiB per operation, absolute remote paths)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from chaser.sdk._http import Http

__all__ = ["MAX_FILE_BYTES", "AsyncFiles", "Progress"]

Json = dict[str, Any]
MAX_FILE_BYTES = 16 * 1024 * 1024
CHUNK = 64 * 1024

# Called with (bytes done, bytes total or None) as a transfer advances.
Progress = Callable[[int, int | None], None]


class _Counting(io.RawIOBase):
    """A readable file that reports how much has been read (httpx reads multipart parts in chunks)."""

    def __init__(self, inner: IO[bytes], total: int | None, progress: Progress | None) -> None:
        self._inner = inner
        self._total = total
        self._progress = progress
        self._done = 0
        self.name = getattr(inner, "name", "file")

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._inner.read(size if size and size > 0 else CHUNK)
        self._done += len(chunk)
        if self._progress is not None:
            self._progress(self._done, self._total)
        return chunk

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class AsyncFiles:
    """`client.files`."""

    def __init__(self, http: Http) -> None:
        self._http = http

    async def upload(
        self,
        session_id: str,
        remote_path: str,
        source: bytes | str | os.PathLike[str] | IO[bytes],
        *,
        progress: Progress | None = None,
    ) -> Json:
        """Writes `source` (bytes, a local path or a binary file) to `remote_path` → `{"path", "size"}`."""
        if isinstance(source, bytes | bytearray):
            stream: IO[bytes] = io.BytesIO(bytes(source))
            total: int | None = len(source)
            name = os.path.basename(remote_path) or "file"
            opened = None
        elif isinstance(source, str | os.PathLike):
            path = Path(source)
            total = path.stat().st_size
            opened = stream = path.open("rb")
            name = path.name
        else:
            stream = source
            opened = None
            name = os.path.basename(getattr(source, "name", "") or remote_path) or "file"
            try:
                total = os.fstat(source.fileno()).st_size
            except (OSError, AttributeError, io.UnsupportedOperation):
                total = None
        try:
            body = _Counting(stream, total, progress)
            result: Json = await self._http.request(
                "POST",
                f"/v1/sessions/{session_id}/upload",
                data={"path": remote_path},
                files={"file": (name, body, "application/octet-stream")},
            )
        finally:
            if opened is not None:
                opened.close()
        if progress is not None and total is not None:
            progress(total, total)
        return result

    async def download(self, session_id: str, remote_path: str, *, progress: Progress | None = None) -> bytes:
        """The file's bytes."""
        chunks: list[bytes] = []
        async with self._http.stream(
            "GET", f"/v1/sessions/{session_id}/download", params={"path": remote_path}
        ) as resp:
            length = resp.headers.get("content-length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            async for chunk in resp.aiter_bytes():
                chunks.append(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        return b"".join(chunks)

    async def download_to(
        self,
        session_id: str,
        remote_path: str,
        local_path: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
    ) -> int:
        """Writes the file to `local_path` (via a temporary file, renamed when complete); returns its size."""
        data = await self.download(session_id, remote_path, progress=progress)
        target = Path(local_path)
        tmp = target.with_name(f".{target.name}.chaser-part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return len(data)
