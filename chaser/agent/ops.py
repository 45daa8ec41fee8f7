"""The op table: name → function(channel, args) -> result. One op per module, wired here only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .channel import Channel
from .files.read import read_file
from .files.write import write_file
from .health import health, ping
from .process.exec import exec_command

Op = Callable[[Channel, dict[str, Any]], Any]

OPS: dict[str, Op] = {
    "ping": ping,
    "health": health,
    "exec": exec_command,
    "write_file": write_file,
    "read_file": read_file,
}
