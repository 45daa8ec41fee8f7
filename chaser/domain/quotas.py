"""Storage quotas, counted in real bytes on the host's disk.

- A workspace's disk (`size_bytes` of the workspace: allocated bytes of its image) may use at most
  `workspace_quota_bytes`.
- An account's disks plus all its snapshots (each snapshot's `size_bytes`) may use at most
  `account_quota_bytes`. On a reflink pool a snapshot or clone shares its extents with its
  source, but the host reports every file's allocated blocks in full, so the sum is an upper
  bound: the quota never lets an account use more than it says.

Checks happen before any bytes are written (with what the new thing will cost as far as it is
known: a clone or snapshot costs its source's bytes), and again after the host made the copy
(with the real figure); a refusal after the copy removes it again, so nothing is half-made.
Refusals are 403 `quota_exceeded`. Concurrent creates can both pass the first check; the
second check then sees both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import QuotaExceeded
from chaser.domain.host import Host, host_errors
from chaser.store import snapshots as snap_store
from chaser.store import workspaces as ws_store


@dataclass(frozen=True)
class StoragePolicy:
    """What the server's settings say about workspace storage (built once in `create_app`)."""

    disk_size_bytes: int = 10 * 1024**3
    workspace_quota_bytes: int = 10 * 1024**3
    account_quota_bytes: int = 25 * 1024**3
    git_base_url: str = "https://github.com"
    seal_secret: bytes = field(default=b"", repr=False)


@dataclass
class Usage:
    disks: dict[str, int]  # disk_id -> allocated bytes, for the account's workspaces
    snapshots: int

    @property
    def total(self) -> int:
        return sum(self.disks.values()) + self.snapshots


def human(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


async def account_usage(db: AsyncSession, host: Host, account_id: str) -> Usage:
    """Real bytes in use now. Needs the host: an unreachable host is a 503, never a guess."""
    workspaces = await ws_store.list_all_for(db, account_id)
    snapshots = await snap_store.bytes_for_account(db, account_id)
    await db.commit()
    if not workspaces:
        return Usage(disks={}, snapshots=snapshots)
    with host_errors("disk list"):
        allocated = {d.disk_id: d.allocated_bytes for d in await host.client.list_disks()}
    return Usage(disks={ws.disk_id: allocated.get(ws.disk_id, 0) for ws in workspaces}, snapshots=snapshots)


def check_account(policy: StoragePolicy, usage: Usage, adding: int, what: str) -> None:
    """`adding` more bytes must fit in the account's quota (`adding` 0: the account is not over)."""
    after = usage.total + adding
    limit = policy.account_quota_bytes
    if after > limit or (adding == 0 and usage.total >= limit):
        raise QuotaExceeded(
            f"{what}: the account's storage would be {human(after)} ({after} bytes), over its quota of "
            f"{human(limit)} ({limit} bytes); delete snapshots or workspaces to make room"
        )


def check_workspace(policy: StoragePolicy, disk_bytes: int, what: str) -> None:
    limit = policy.workspace_quota_bytes
    if disk_bytes > limit:
        raise QuotaExceeded(
            f"{what}: the workspace disk uses {human(disk_bytes)} ({disk_bytes} bytes), over the "
            f"per-workspace quota of {human(limit)} ({limit} bytes); delete files in it (or restore "
            "a smaller snapshot) to make room"
        )
