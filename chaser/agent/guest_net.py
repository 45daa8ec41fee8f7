"""Inside a QEMU VM: bring up the NIC from the kernel command line, before the first HELLO.

The host passes `chaser.net=<addr>/<prefix>,<gateway>`. Every VM restored from a template keeps
this configuration (the host gives each VM its own namespace behind the same gateway), so it is
done once, at the template's cold boot. No udev in the guest: the NIC is the first non-loopback
interface the kernel lists.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

NIC_WAIT_S = 5.0


def parse(cmdline: str) -> tuple[str, str] | None:
    for word in cmdline.split():
        if word.startswith("chaser.net="):
            address, _, gateway = word.removeprefix("chaser.net=").partition(",")
            if address and gateway:
                return address, gateway
    return None


def configure_from_cmdline() -> None:
    try:
        with open("/proc/cmdline") as f:
            wanted = parse(f.read())
    except OSError:
        return
    if wanted is None:
        return
    address, gateway = wanted
    nic = _first_nic()
    if nic is None:
        print("chaser-agent: chaser.net given but no network interface appeared", file=sys.stderr)
        return
    for argv in (
        ["ip", "addr", "add", address, "dev", nic],
        ["ip", "link", "set", nic, "up"],
        ["ip", "route", "add", "default", "via", gateway],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"chaser-agent: {' '.join(argv)}: {done.stderr.strip()}", file=sys.stderr)


def _first_nic() -> str | None:
    deadline = time.monotonic() + NIC_WAIT_S
    while True:
        try:
            names = sorted(n for n in os.listdir("/sys/class/net") if n != "lo")
        except OSError:
            names = []
        if names or time.monotonic() > deadline:
            return names[0] if names else None
        time.sleep(0.05)
