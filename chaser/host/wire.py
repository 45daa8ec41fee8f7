"""Shapes of the host daemon's internal HTTP API.

The control plane talks to each host daemon with these models (see `chaser.host.client`); the
daemon serves them (see `chaser.host.api`). They are internal: the public contract lives in
`chaser.api.schemas`. Errors use the same body as the public API,
`{"error": {"code": ..., "message": ...}}`, with codes such as `vm_not_found`, `disk_not_found`,
`file_not_found`, `agent_unavailable`, `runtime_failed`, `too_large`, `concurrency_limit`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class VmState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    # The daemon cannot tell (e.g. the agent is mid-reconnect). Never read as "stopped".
    UNKNOWN = "unknown"


class HostInfo(BaseModel):
    host_id: str
    runtime: str  # "gvisor" | "qemu"
    accel: str  # "ptrace" | "kvm" | "tcg"
    agent_version: str
    vms: int
    images: list[str]


class DiskSpec(BaseModel):
    disk_id: str
    size_bytes: int = Field(gt=0)


class DiskInfo(BaseModel):
    disk_id: str
    size_bytes: int
    allocated_bytes: int  # real bytes on the host's disk
    attached_to: str | None = None  # vm_id


class VmSpec(BaseModel):
    vm_id: str
    session_type: str = "sandbox"
    image: str = "base"
    env: dict[str, str] = Field(default_factory=dict)
    disk_id: str | None = None  # mounted at /workspace
    vcpus: int = 1
    memory_mib: int = 512
    labels: dict[str, str] = Field(default_factory=dict)  # e.g. session_id, account_id


class VmInfo(BaseModel):
    vm_id: str
    state: VmState
    runtime: str
    accel: str
    image: str
    disk_id: str | None
    created_at: float
    exit_reason: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class ExecRequest(BaseModel):
    command: str
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    stdin: str | None = None
    timeout_ms: int | None = None
    user: str | None = None
    max_output_bytes: int = 1024 * 1024


class ExecResult(BaseModel):
    exit_code: int | None  # None when killed by the timeout
    output: str
    output_truncated: bool
    timed_out: bool
    pid: int | None = None
    duration_ms: float


class FileInfo(BaseModel):
    path: str
    size: int
