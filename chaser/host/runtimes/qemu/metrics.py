"""What one QEMU process costs the host: RSS and PSS (shared template pages counted fractionally)."""

from __future__ import annotations


def memory(pid: int) -> dict[str, int]:
    """Bytes, from /proc/<pid>/smaps_rollup; empty when the process is gone."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss", "Shared_Clean", "Private_Dirty", "Pss_Anon", "Pss_File"):
                    out[key.lower()] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return {}
    return out
