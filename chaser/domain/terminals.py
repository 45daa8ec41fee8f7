"""Terminals (PTYs) of a sandbox session: the parameters of a new or reattached terminal, and
resizing. The bytes themselves are relayed by the API layer between the client's WebSocket and
the host daemon's."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import InvalidField, PtyNotFound
from chaser.domain.host import Host, host_errors
from chaser.domain.principal import Principal
from chaser.domain.session_io import open_sandbox, vm_gone
from chaser.host.client import HostError

MODES = ("human", "agent", "exec")
MAX_DIMENSION = 1000


@dataclass(frozen=True)
class PtyParams:
    mode: str = "human"
    cols: int = 80
    rows: int = 24
    command: str | None = None
    pty_id: str | None = None


def check_size(cols: int, rows: int) -> None:
    for name, value in (("cols", cols), ("rows", rows)):
        if not 1 <= value <= MAX_DIMENSION:
            raise InvalidField(f"{name}: must be between 1 and {MAX_DIMENSION}")


def check(params: PtyParams) -> None:
    if params.mode not in MODES:
        raise InvalidField("mode: one of human, agent, exec")
    check_size(params.cols, params.rows)
    if params.mode == "exec" and not (params.command or "").strip() and params.pty_id is None:
        raise InvalidField("command: required with mode=exec")


async def resize(
    db: AsyncSession, host: Host, who: Principal, session_id: str, cols: int, rows: int, pty_id: str | None
) -> list[str]:
    """Resize one terminal, or every terminal of the session when `pty_id` is None."""
    check_size(cols, rows)
    s = await open_sandbox(db, who, session_id)
    await db.commit()
    vm_id = s.host_vm_id or s.id
    with host_errors("resize"):
        try:
            if pty_id is not None:
                await host.client.resize_pty(vm_id, pty_id, cols, rows)
                return [pty_id]
            resized = []
            for pty in await host.fast.list_ptys(vm_id):
                try:
                    await host.client.resize_pty(vm_id, pty.pty_id, cols, rows)
                except HostError as exc:
                    if exc.code != "pty_not_found":  # exited meanwhile: not resized, not an error
                        raise
                else:
                    resized.append(pty.pty_id)
            return resized
        except HostError as exc:
            await vm_gone(db, host, s, exc)
            if exc.code == "pty_not_found":
                raise PtyNotFound() from exc
            raise
