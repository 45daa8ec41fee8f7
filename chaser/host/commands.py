"""Running the host's own tools (mount, mkfs, cp, qemu-img, …) from the daemon's event loop."""

from __future__ import annotations

import asyncio


async def run(*argv: str, input: str | None = None) -> tuple[int, str]:
    """Run a tool to completion: (exit code, stdout and stderr merged, stripped). `input` is fed
    to its stdin (e.g. `ip -batch -`, `nft -f -`)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL if input is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate(None if input is None else input.encode())
    return proc.returncode or 0, out.decode(errors="replace").strip()
