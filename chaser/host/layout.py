"""Where the host daemon keeps things under `state_dir`, and atomic JSON writes.

state_dir/
  host_id                 this host's stable id
  vms/<vm_id>/            state.json, bundle/config.json, sock/agent.sock, console.log
  disks/<disk_id>.ext4    workspace disk images (sparse)
  mnt/<disk_id>/          a disk's mount point while it is attached to a VM
  runsc-root/             runsc's own state
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from chaser.host.errors import InvalidRequest

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_id(kind: str, value: str) -> str:
    """Ids become path components and runsc container ids: keep them boring."""
    if not _ID.match(value):
        raise InvalidRequest(f"invalid {kind} {value!r}: use letters, digits, '_', '.', '-' (max 128)")
    return value


class Layout:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir.resolve()
        self.vms = self.root / "vms"
        self.disks = self.root / "disks"
        self.mnt = self.root / "mnt"
        self.runsc_root = self.root / "runsc-root"

    def ensure(self) -> None:
        for path in (self.vms, self.disks, self.mnt, self.runsc_root):
            path.mkdir(parents=True, exist_ok=True)

    def vm_dir(self, vm_id: str) -> Path:
        return self.vms / vm_id

    def disk_path(self, disk_id: str) -> Path:
        return self.disks / f"{disk_id}.ext4"

    def mount_dir(self, disk_id: str) -> Path:
        return self.mnt / disk_id

    def host_id(self) -> str:
        path = self.root / "host_id"
        if not path.exists():
            write_atomic(path, f"host-{secrets.token_hex(6)}\n")
        return path.read_text().strip()


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def write_json(path: Path, body: Any) -> None:
    write_atomic(path, json.dumps(body, indent=1))
