"""Running the host's own tools (mount, mkfs, cp, qemu-img, …) from the daemon's event loop."""

from __future__ import annotations

import asyncio


async def run(*argv: str) -> tuple[int, str]:
    """Run a tool to completion: (exit code, stdout and stderr merged, stripped)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace").strip()
