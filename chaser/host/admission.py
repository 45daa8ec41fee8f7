"""Memory admission: a host starts a VM only while the memory it would leave stays above a reserve.

The VM count (`max_vms`) says nothing about memory: 64 idle 128 MiB VMs cost ~3 GiB, 64 busy 8 GiB
ones more than most hosts have. So besides the count, a new VM is refused (`429 concurrency_limit`)
when MemAvailable, less what VMs still starting may yet take, less what this one may take, would
fall below the reserve. A VM still booting is charged its worst case (guest RAM plus the runtime's
overhead) because MemAvailable does not show it yet; once running, MemAvailable does. Running VMs
are not charged again: they are admitted on what they use now (an idle restored VM uses a fraction
of its RAM), like the kernel's own overcommit, and a VM that grows past its share meets its cgroup
limit first; the reserve is the margin that keeps the host out of swap (or, without swap, out of the
OOM killer's reach) when guests do grow.

`refusal()` is the whole decision, pure; `read_meminfo()` is its only input from the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
MEMINFO = Path("/proc/meminfo")
MIN_RESERVE_MIB = 1024
RESERVE_FRACTION = 0.05
SETTING = "CHASER_HOST_MEMORY_RESERVE_MIB"


@dataclass(frozen=True)
class MemInfo:
    """The host's memory in MiB, from /proc/meminfo."""

    total_mib: int
    available_mib: int
    swap_total_mib: int = 0
    swap_free_mib: int = 0


def parse_meminfo(text: str) -> MemInfo:
    fields: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        words = rest.split()
        if words and words[0].isdigit():
            fields[key] = int(words[0]) // 1024  # kB → MiB
    return MemInfo(
        total_mib=fields.get("MemTotal", 0),
        available_mib=fields.get("MemAvailable", fields.get("MemFree", 0)),
        swap_total_mib=fields.get("SwapTotal", 0),
        swap_free_mib=fields.get("SwapFree", 0),
    )


def read_meminfo(path: Path = MEMINFO) -> MemInfo:
    return parse_meminfo(path.read_text())


def default_reserve_mib(total_mib: int) -> int:
    """1 GiB, or 5% of the host's RAM on hosts above 20 GiB."""
    return max(MIN_RESERVE_MIB, int(total_mib * RESERVE_FRACTION))


def refusal(available_mib: int, reserve_mib: int, starting_mib: int, need_mib: int) -> str | None:
    """None when a VM that may take `need_mib` can start, else why not (the 429's message).

    `available_mib`: MemAvailable now; `starting_mib`: what VMs already starting may still take.
    """
    left = available_mib - starting_mib - need_mib
    if left >= reserve_mib:
        return None
    starting = f", {starting_mib} MiB held for VMs still starting" if starting_mib else ""
    return (
        f"not enough memory on this host for another VM: {available_mib} MiB available{starting}, "
        f"this VM may take {need_mib} MiB and the host keeps {reserve_mib} MiB in reserve ({SETTING}); "
        f"stop some sessions or ask for less memory_mib, or lower {SETTING} if this host can run "
        "closer to its limit"
    )
