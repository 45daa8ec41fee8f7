"""Errors of the host daemon. Each carries its wire code and HTTP status; `api.py` maps them once.

DaemonError
├── NotFound (404): VmNotFound, DiskNotFound, FileNotFound, ImageNotFound
├── Conflict (409): VmExists, DiskExists, DiskBusy, VmNotRunning
├── BadRequest (400): InvalidRequest
├── TooLarge (413)
├── AgentUnavailable (503): the agent did not connect, or its link dropped mid-op
├── RuntimeFailed (500): runsc (or another runtime) failed
└── AgentError (500 unless the agent's code maps to one of the above)
"""

from __future__ import annotations

from typing import ClassVar


class DaemonError(Exception):
    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DaemonError):
    code = "not_found"
    status = 404


class VmNotFound(NotFound):
    """No VM with this id on this host."""

    code = "vm_not_found"


class DiskNotFound(NotFound):
    """No disk with this id on this host."""

    code = "disk_not_found"


class FileNotFound(NotFound):
    """No such file inside the VM."""

    code = "file_not_found"


class ImageNotFound(NotFound):
    """The image is not in this host's cache (run images/build-base.sh)."""

    code = "image_not_found"


class Conflict(DaemonError):
    code = "conflict"
    status = 409


class VmExists(Conflict):
    code = "vm_exists"


class DiskExists(Conflict):
    code = "disk_exists"


class DiskBusy(Conflict):
    """The disk is attached to a VM."""

    code = "disk_busy"


class VmNotRunning(Conflict):
    """The VM's sandbox has exited; only DELETE is useful now."""

    code = "vm_not_running"


class SnapshotNotFound(NotFound):
    """No snapshot with this id for this disk."""

    code = "snapshot_not_found"


class SnapshotExists(Conflict):
    code = "snapshot_exists"


class FreezeFailed(DaemonError):
    """The live disk could not be frozen for a consistent copy."""

    code = "freeze_failed"
    status = 500


class InvalidRequest(DaemonError):
    code = "invalid_request"
    status = 400


class TooLarge(DaemonError):
    code = "too_large"
    status = 413


class ConcurrencyLimit(DaemonError):
    """This host runs as many VMs as its budget allows; try again when one has stopped."""

    code = "concurrency_limit"
    status = 429


class AgentUnavailable(DaemonError):
    code = "agent_unavailable"
    status = 503


class RuntimeFailed(DaemonError):
    code = "runtime_failed"
    status = 500


class AgentError(DaemonError):
    """An op failed inside the guest; `code` is the agent's own code."""

    status = 500

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.agent_code = code


# Agent codes that mean the same as a daemon error, so the wire code and status line up.
AGENT_CODE_STATUS = {
    "file_not_found": 404,
    "is_a_directory": 400,
    "not_a_directory": 400,
    "invalid_path": 400,
    "invalid_cwd": 400,
    "unknown_user": 400,
    "bad_request": 400,
    "permission_denied": 403,
    "too_large": 413,
    "no_space": 507,
    "cancelled": 499,
    "pty_not_found": 404,
    "command_not_found": 404,
    "bad_signal": 400,
    "port_refused": 502,
    "invalid_archive": 400,
    "browser_unavailable": 503,
}
