"""Stop everything a host state directory still runs while no daemon serves it.

`chaser server` stops restart-safe: sessions' sandboxes keep running (and their disks mounted) for
the next daemon to adopt. When the platform is to be stopped for good, or a test or benchmark is
done with a data directory, this removes what is left: every gVisor sandbox under the state dir's
runtime root, every QEMU process whose files live in it, every VM network namespace it made (with
its slot and egress entry), and every mount beneath it, deepest first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from chaser.host.disks import mounted_under
from chaser.host.network import HostNetwork
from chaser.host.runtimes.qemu.limits import Limits


class DaemonRunning(RuntimeError):
    """A host daemon still serves this state directory; stop the server first."""


@dataclass
class Reaped:
    sandboxes: list[str]
    mounts: list[str]
    vm_processes: list[int]
    networks: list[str]


def qemu_pids(state_dir: Path) -> list[int]:
    """QEMU processes whose command line points into this state directory."""
    target = str(state_dir.resolve()) + "/"
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if words and "qemu-system" in words[0] and any(target in w for w in words):
            pids.append(int(entry.name))
    return pids


def daemon_pids(state_dir: Path) -> list[int]:
    """Host daemons whose command line or environment names this state directory."""
    target = str(state_dir.resolve())
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [w.decode(errors="replace") for w in cmdline]
        is_host = "host" in words or "chaser.host" in words
        names_dir = any(target in w for w in words) or f"CHASER_HOST_STATE_DIR={target}".encode() in environ
        if is_host and names_dir:
            pids.append(int(entry.name))
    return pids


def reap(state_dir: Path) -> Reaped:
    if daemon_pids(state_dir):
        raise DaemonRunning(f"a host daemon still serves {state_dir}; stop `chaser server` first")
    runsc_root = state_dir / "runsc-root"
    sandboxes: list[str] = []
    if runsc_root.is_dir():
        listed = subprocess.run(
            ["runsc", f"--root={runsc_root}", "list", "--quiet"], capture_output=True, text=True, check=False
        )
        for sandbox in listed.stdout.split():
            delete = ["runsc", f"--root={runsc_root}", "delete", "--force", sandbox]
            subprocess.run(delete, capture_output=True, check=False)
            sandboxes.append(sandbox)
    killed = qemu_pids(state_dir)
    for pid in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while killed and time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in killed):
        time.sleep(0.05)  # their disk files must be closed before the pool is unmounted
    networks = HostNetwork(state_dir).release_all()
    Limits(state_dir).remove_all()  # the QEMUs' cgroups (their processes are dead by now)
    mounts: list[str] = []
    if state_dir.exists():
        for point in sorted(mounted_under(state_dir), key=lambda p: len(p.parts), reverse=True):
            done = subprocess.run(["umount", str(point)], capture_output=True, check=False)
            if done.returncode != 0:
                subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
            mounts.append(str(point))
    return Reaped(sandboxes=sandboxes, mounts=mounts, vm_processes=killed, networks=networks)
