"""Run the two directions of a relay; when one ends, cancel the other."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


async def first_of(*coros: Coroutine[Any, Any, str]) -> str:
    """The result of the direction that ended first. Its error (e.g. AgentUnavailable from the
    agent direction) propagates, so the socket closes with that error's code."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    first = next(t for t in tasks if t in done)
    return first.result()
