"""The op table: name → function(channel, args) -> result. One op per module, wired here only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .browser.ops import browser_extension_add, browser_start, browser_status, browser_stop
from .channel import Channel
from .files.read import read_file
from .files.write import write_file
from .health import health, ping
from .ports.connect import connect
from .process.background import (
    command_events,
    command_get,
    command_kill,
    command_list,
    command_start,
    command_stdin,
)
from .process.exec import exec_command
from .process.pty import pty, pty_list, pty_resize
from .refresh import vm_refresh
from .selftest import self_test

Op = Callable[[Channel, dict[str, Any]], Any]

OPS: dict[str, Op] = {
    "ping": ping,
    "health": health,
    "exec": exec_command,
    "write_file": write_file,
    "read_file": read_file,
    "pty": pty,
    "pty_list": pty_list,
    "pty_resize": pty_resize,
    "command_start": command_start,
    "command_list": command_list,
    "command_get": command_get,
    "command_events": command_events,
    "command_stdin": command_stdin,
    "command_kill": command_kill,
    "connect": connect,
    "self_test": self_test,
    "vm_refresh": vm_refresh,
    "browser_start": browser_start,
    "browser_stop": browser_stop,
    "browser_status": browser_status,
    "browser_extension_add": browser_extension_add,
}
