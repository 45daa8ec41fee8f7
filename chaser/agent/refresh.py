"""`vm_refresh`: give a VM restored from a template snapshot its own identity before it is used.

Every VM restored from one template starts as a byte-for-byte copy of it, so the host sends, once:
a random seed (mixed into the kernel pool), hostname, machine-id, the wall clock (the snapshot's is
stale), the agent token for future HELLOs, and whether a workspace disk was just hot-plugged
(mounted at /workspace once the kernel has probed it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import Any

from . import transport
from .channel import Channel
from .errors import BadRequest

WORKSPACE_WAIT_S = 30.0


def vm_refresh(channel: Channel, args: dict[str, Any]) -> dict[str, Any]:
    if "time" in args:
        time.clock_settime(time.CLOCK_REALTIME, float(args["time"]))
    if args.get("seed"):
        with open("/dev/urandom", "wb") as pool:
            pool.write(bytes.fromhex(str(args["seed"])))
    if args.get("hostname"):
        socket.sethostname(str(args["hostname"]))
        _write("/etc/hostname", f"{args['hostname']}\n")
    if args.get("machine_id"):
        _write("/etc/machine-id", f"{args['machine_id']}\n")
    if args.get("token"):
        transport.TOKEN[0] = str(args["token"])
    mounted = False
    if args.get("workspace"):
        mounted = _mount_workspace(str(args.get("workspace_label", "workspace")))
    return {"workspace": mounted}


def _write(path: str, text: str) -> None:
    tmp = f"{path}.chaser-tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _mount_workspace(label: str) -> bool:
    """The disk appears a moment after the PCIe hot-plug; `mount LABEL=` finds it without udev."""
    deadline = time.monotonic() + WORKSPACE_WAIT_S
    last = ""
    while time.monotonic() < deadline:
        done = subprocess.run(
            ["mount", f"LABEL={label}", "/workspace"], capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            return True
        last = done.stderr.strip()
        time.sleep(0.05)
    raise BadRequest(f"workspace disk did not appear: {last}", code="workspace_unavailable")
