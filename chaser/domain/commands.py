"""Background commands of a sandbox session: list, read, stream, stdin, kill (they are started by
`session_io.exec_command` with `background`).

The host daemon keeps each command's stdout/stderr apart in a bounded buffer of numbered events
(`seq`); the public SSE stream relays them with `id: <seq>`, so a client resumes exactly where
it stopped (`Last-Event-ID`). Every call first checks the session can take commands (running
sandbox of the caller's account), so a terminated session answers 409, not a host error.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import InvalidField
from chaser.domain.host import Host, host_errors
from chaser.domain.principal import Principal
from chaser.domain.session_io import open_sandbox, vm_gone
from chaser.host.client import HostError
from chaser.host.wire import CommandInfo
from chaser.store.models import Session

SIGNALS = ("TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2", "STOP", "CONT")


async def _target(db: AsyncSession, who: Principal, session_id: str) -> tuple[Session, str]:
    s = await open_sandbox(db, who, session_id)
    await db.commit()  # never hold a transaction across a host call
    return s, s.host_vm_id or s.id


async def list_commands(db: AsyncSession, host: Host, who: Principal, session_id: str) -> list[CommandInfo]:
    s, vm_id = await _target(db, who, session_id)
    with host_errors("list commands"):
        try:
            return await host.fast.list_commands(vm_id)
        except HostError as exc:
            await vm_gone(db, host, s, exc)
            raise


async def get(db: AsyncSession, host: Host, who: Principal, session_id: str, command_id: str) -> CommandInfo:
    s, vm_id = await _target(db, who, session_id)
    with host_errors("get command"):
        try:
            return await host.fast.get_command(vm_id, command_id)
        except HostError as exc:
            await vm_gone(db, host, s, exc)
            raise


async def send_stdin(
    db: AsyncSession, host: Host, who: Principal, session_id: str, command_id: str, data: str, eof: bool
) -> CommandInfo:
    s, vm_id = await _target(db, who, session_id)
    with host_errors("stdin"):
        try:
            return await host.client.command_stdin(vm_id, command_id, data, eof)
        except HostError as exc:
            await vm_gone(db, host, s, exc)
            raise


def check_signal(signal: str | int) -> str | int:
    if isinstance(signal, int):
        if not 1 <= signal <= 64:
            raise InvalidField("signal: a signal number is between 1 and 64")
        return signal
    name = signal.upper().removeprefix("SIG")
    if name not in SIGNALS:
        raise InvalidField(f"signal: one of {', '.join(SIGNALS)} or a number")
    return name


async def kill(
    db: AsyncSession, host: Host, who: Principal, session_id: str, command_id: str, signal: str | int
) -> CommandInfo:
    sig = check_signal(signal)
    s, vm_id = await _target(db, who, session_id)
    with host_errors("kill"):
        try:
            return await host.client.kill_command(vm_id, command_id, sig)
        except HostError as exc:
            await vm_gone(db, host, s, exc)
            raise


@dataclass
class EventSource:
    """A command's event stream, checked (session open, command known) but not yet opened."""

    host: Host
    session_id: str
    vm_id: str
    command_id: str
    after: int | None

    async def events(self) -> AsyncGenerator[dict[str, Any], None]:
        """The host's NDJSON events from `after` on, until `exit` (or the host closes it)."""
        with host_errors("command stream"):
            async for event in self.host.client.command_events(
                self.vm_id, self.command_id, after=self.after or 0
            ):
                yield event


async def open_events(
    db: AsyncSession, host: Host, who: Principal, session_id: str, command_id: str, after: int | None
) -> EventSource:
    if after is not None and after < 0:
        raise InvalidField("after: must be a non-negative event id")
    s, vm_id = await _target(db, who, session_id)
    with host_errors("get command"):  # 404 / 409 before any byte is streamed
        try:
            await host.fast.get_command(vm_id, command_id)
        except HostError as exc:
            await vm_gone(db, host, s, exc)
            raise
    return EventSource(host=host, session_id=s.id, vm_id=vm_id, command_id=command_id, after=after)
