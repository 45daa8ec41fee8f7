"""The one boundary where QMP (qemu.qmp) failures become `RuntimeFailed`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qemu.qmp import QMPClient, QMPError

from chaser.host.errors import RuntimeFailed


class Qmp:
    def __init__(self, name: str, path: Path) -> None:
        self._path = path
        self._client = QMPClient(name)
        self._connected = False

    async def connect(self, timeout: float, alive: Callable[[], bool]) -> None:
        """Connect once QEMU has made its socket; fail fast if the process exits first."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeFailed("qemu exited during start-up")
            if self._path.exists():
                try:
                    await asyncio.wait_for(self._client.connect(str(self._path)), 2.0)
                    self._connected = True
                    return
                except (QMPError, OSError, TimeoutError) as exc:
                    last = exc
            await asyncio.sleep(0.01)
        raise RuntimeFailed(f"qemu's QMP socket did not answer within {timeout:.0f}s ({last!r})")

    async def execute(self, command: str, args: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
        try:
            return await asyncio.wait_for(self._client.execute(command, args), timeout)
        except (QMPError, OSError, TimeoutError) as exc:
            raise RuntimeFailed(f"qmp {command}: {exc!r}") from exc

    async def wait_status(self, wanted: set[str], timeout: float, alive: Callable[[], bool]) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeFailed("qemu exited")
            status = str((await self.execute("query-status"))["status"])
            if status in wanted:
                return status
            if status in ("internal-error", "io-error", "guest-panicked", "shutdown"):
                raise RuntimeFailed(f"vm status is {status}")
            await asyncio.sleep(0.01)
        raise RuntimeFailed(f"vm did not reach {sorted(wanted)} within {timeout:.0f}s")

    async def wait_migration(self, timeout: float, alive: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeFailed("qemu exited during migration")
            info = await self.execute("query-migrate")
            status = info.get("status")
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                raise RuntimeFailed(f"migration {status}: {info.get('error-desc', '')}")
            await asyncio.sleep(0.01)
        raise RuntimeFailed(f"migration did not complete within {timeout:.0f}s")

    async def close(self) -> None:
        if self._connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.disconnect(), 2.0)
            self._connected = False
