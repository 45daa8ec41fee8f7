"""An `AgentLink` that CONNECTS: for runtimes whose VM monitor listens (QEMU's chardev socket).

The gVisor agent dials out to a socket the daemon listens on; a QEMU VM's agent sits behind a
virtio-serial port whose host end is a unix socket QEMU itself listens on. So here the daemon dials,
and keeps redialling while the link is open: after a drop, a snapshot restore or a daemon restart,
the next connection brings a fresh HELLO. Everything past the connect (HELLO check, channels,
ops) is `AgentLink`'s.

`ready_path`, when set, holds the dialling back until that file exists: the runtime writes it once
the VM's identity is refreshed, so no one else's connection can take the agent's HELLO before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from chaser.host.agent_link import HELLO_TIMEOUT_S, AgentLink

REDIAL_S = 0.05
HANGUP_S = 0.5
BOOT_HELLO_TIMEOUT_S = 600.0


class DialingAgentLink(AgentLink):
    def __init__(
        self, vm_id: str, socket_path: Path, token: str, dial_path: Path, ready_path: Path | None = None
    ) -> None:
        super().__init__(vm_id, socket_path, token)
        self.dial_path = dial_path
        self.ready_path = ready_path
        self._dialer: asyncio.Task[None] | None = None

    def set_token(self, token: str) -> None:
        self._token = token

    async def listen(self) -> None:
        if self._dialer is None or self._dialer.done():
            self._dialer = asyncio.create_task(self._dial_forever())

    async def close(self) -> None:
        dialer, self._dialer = self._dialer, None
        if dialer is not None:
            dialer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dialer
        conn = self._conn
        if conn is not None:
            self._drop(conn)
            conn.writer.close()

    async def _dial_forever(self) -> None:
        while True:
            if self.ready_path is not None and not self.ready_path.exists():
                await asyncio.sleep(REDIAL_S)
                continue
            # Before `ready` (a booting guest) HELLO may take many seconds: wait for it rather than
            # redial. After, a missing HELLO means the guest missed our last close/open pair (a
            # virtio-serial reader sees only the state, not the edges): hang up long enough for
            # it to notice, then dial again.
            self.hello_timeout = BOOT_HELLO_TIMEOUT_S if self.ready_path is None else HELLO_TIMEOUT_S
            try:
                reader, writer = await open_unix(self.dial_path)
            except OSError:
                await asyncio.sleep(REDIAL_S)
                continue
            try:
                await self._on_connect(reader, writer)
            finally:
                writer.close()
            await asyncio.sleep(REDIAL_S if self.agent_version else HANGUP_S)


async def open_unix(path: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect through a /proc/self/fd alias of the directory: sun_path holds only 108 bytes."""
    dir_fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        return await asyncio.open_unix_connection(f"/proc/self/fd/{dir_fd}/{path.name}")
    finally:
        os.close(dir_fd)
