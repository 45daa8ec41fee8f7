"""Per-VM network namespaces on this host: made at boot, given or denied egress at hand-out,
deleted with the VM. The names and rules come from `plan.py`; this module runs `ip` and `nft`.

Slots (a VM's /30) are shared by every daemon on the host, so they are claimed as files under
`SLOT_DIR` while holding a host-wide lock; a slot whose namespace no longer exists is stale and
is reclaimed (its egress entry cleared first).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chaser.host.commands import run
from chaser.host.errors import RuntimeFailed
from chaser.host.network import plan
from chaser.host.network.plan import Slot

log = logging.getLogger(__name__)

SLOT_DIR = Path("/run/chaser/net/slots")
NETNS_DIR = Path("/run/netns")
STALE_AFTER_S = 60.0


@dataclass(frozen=True)
class VmNetwork:
    netns: str
    slot: Slot

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.netns


def network_missing() -> str | None:
    """Why this host cannot give VMs a network, or None."""
    for tool, package in (("ip", "iproute2"), ("nft", "nftables"), ("nsenter", "util-linux")):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Debian package {package}; scripts/bootstrap.sh installs it)"
    if not Path("/dev/net/tun").exists():
        return "/dev/net/tun is missing (load the tun module)"
    return None


class HostNetwork:
    def __init__(self, state_dir: Path, slot_dir: Path = SLOT_DIR) -> None:
        self.scope = plan.scope(state_dir)
        self._slot_dir = slot_dir
        self._known: dict[str, Slot] = {}  # netns → slot, so a hand-out reads one file, not all

    def netns(self, sandbox_id: str) -> str:
        return plan.netns_name(self.scope, sandbox_id)

    def setup(self) -> None:
        """Once per daemon start: forwarding on, the host table in place. Idempotent."""
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
        done = _tool("nft", "-f", "-", input=plan.host_ruleset())
        if done.returncode != 0:
            raise RuntimeFailed(f"nft: cannot install the host's VM network rules: {done.stderr.strip()}")

    # ---- one VM

    async def create(self, sandbox_id: str, tap: bool) -> VmNetwork:
        """A fresh namespace for this sandbox (any leftover of the same name is replaced)."""
        await self.destroy(sandbox_id)
        netns = self.netns(sandbox_id)
        slot = await asyncio.to_thread(self._claim_slot, netns)
        net = VmNetwork(netns, slot)
        try:
            await _must("ip", "netns", "add", netns)
            await _must("ip", "-batch", "-", input="\n".join(plan.root_commands(slot, netns)) + "\n")
            await _must(
                "ip", "-n", netns, "-batch", "-", input="\n".join(plan.netns_commands(slot, tap)) + "\n"
            )
            if tap:
                await _must(
                    "nsenter", f"--net={net.netns_path}", "sh", "-c",
                    "echo 1 >/proc/sys/net/ipv4/ip_forward && exec nft -f -",
                    input=plan.netns_ruleset(),
                )  # fmt: skip
        except BaseException:
            await asyncio.shield(self.destroy(sandbox_id))
            raise
        return net

    async def allow_egress(self, sandbox_id: str, allowed: bool) -> None:
        slot = self._slot_of(self.netns(sandbox_id))
        if slot is None:
            raise RuntimeFailed(f"sandbox {sandbox_id!r} has no network namespace")
        code, out = await run("nft", plan.egress_command(slot, allowed))
        if code != 0 and allowed:
            raise RuntimeFailed(f"nft: {out}")

    async def destroy(self, sandbox_id: str) -> None:
        """Delete the namespace (its veth pair and tap go with it), the egress entry, the slot.
        Idempotent; tolerates any part never having been made."""
        await asyncio.to_thread(self._release, self.netns(sandbox_id))

    def release_all(self) -> list[str]:
        """Every namespace of this daemon's scope (`chaser admin reap`, with no daemon running)."""
        prefix = plan.netns_name(self.scope, "")
        gone = [n for n in self._claimed() if n.startswith(prefix)]
        if NETNS_DIR.is_dir():
            gone += [p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix) and p.name not in gone]
        for netns in gone:
            self._release(netns)
        return gone

    def _release(self, netns: str) -> None:
        if (NETNS_DIR / netns).exists():
            done = _tool("ip", "netns", "delete", netns)
            if done.returncode != 0 and (NETNS_DIR / netns).exists():
                raise RuntimeFailed(f"ip netns delete {netns}: {done.stderr.strip()}")
        slot = self._slot_of(netns)
        if slot is not None:
            _tool("nft", plan.egress_command(slot, False))
            # A veth outlives its namespace briefly while the kernel tears it down.
            _tool("ip", "link", "delete", slot.host_if)
            with self._slots_locked():
                claim = self._slot_dir / str(slot.index)
                with contextlib.suppress(OSError):
                    if claim.read_text().strip() == netns:  # not meanwhile reclaimed as stale
                        claim.unlink()
        self._known.pop(netns, None)

    # ---- slots

    def _claimed(self) -> list[str]:
        if not self._slot_dir.is_dir():
            return []
        names = []
        for f in self._slot_dir.iterdir():
            with contextlib.suppress(OSError):
                names.append(f.read_text().strip())
        return names

    def _slot_of(self, netns: str) -> Slot | None:
        known = self._known.get(netns)
        if known is not None and _read(self._slot_dir / str(known.index)) == netns:
            return known
        if not self._slot_dir.is_dir():
            return None
        for f in self._slot_dir.iterdir():
            with contextlib.suppress(ValueError):
                if _read(f) == netns:
                    self._known[netns] = Slot(int(f.name))
                    return self._known[netns]
        return None

    @contextlib.contextmanager
    def _slots_locked(self) -> Iterator[None]:
        """Host-wide: claims and releases of slots by every daemon are serialised."""
        self._slot_dir.mkdir(parents=True, exist_ok=True)
        with open(self._slot_dir.parent / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _claim_slot(self, netns: str) -> Slot:
        with self._slots_locked():
            taken: dict[int, tuple[str, float]] = {}
            for f in self._slot_dir.iterdir():
                with contextlib.suppress(OSError, ValueError):
                    taken[int(f.name)] = (f.read_text().strip(), f.stat().st_mtime)
            now = time.time()
            for index in range(1, plan.SLOTS + 1):
                owner = taken.get(index)
                # A claim younger than STALE_AFTER_S may be one whose namespace is being made.
                if owner is not None and ((NETNS_DIR / owner[0]).exists() or now - owner[1] < STALE_AFTER_S):
                    continue
                slot = Slot(index)
                if owner is not None:  # stale: its namespace is gone; so must its egress be
                    _tool("nft", plan.egress_command(slot, False))
                    _tool("ip", "link", "delete", slot.host_if)
                (self._slot_dir / str(index)).write_text(netns + "\n")
                self._known[netns] = slot
                return slot
        raise RuntimeFailed(f"no free network slot: {plan.SLOTS} VMs have one on this host")


async def _must(*argv: str, input: str | None = None) -> None:
    code, out = await run(*argv, input=input)
    if code != 0:
        raise RuntimeFailed(f"{' '.join(argv[:4])}: {out}")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _tool(*argv: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=input, capture_output=True, text=True, check=False)
