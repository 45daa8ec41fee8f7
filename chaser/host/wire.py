"""Shapes of the host daemon's internal HTTP API.

The control plane talks to each host daemon with these models (see `chaser.host.client`); the
daemon serves them (see `chaser.host.api`). They are internal: the public contract lives in
`chaser.api.schemas`. Errors use the same body as the public API,
`{"error": {"code": ..., "message": ...}}`, with codes such as `vm_not_found`, `disk_not_found`,
`file_not_found`, `agent_unavailable`, `runtime_failed`, `too_large`, `concurrency_limit`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


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
    reflink: bool | None = None  # workspace snapshots/clones are reflink copies (None: not reported)


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
    internet_access: bool = True  # NAT egress from the VM's network namespace
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
    exit_cause: str | None = None  # `memory_limit`: killed for going over its memory limit
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


# ---- interactive surface (docs/host-streams.md)


class PtyMode(StrEnum):
    HUMAN = "human"  # bash -l -i, TERM=xterm-256color, prompts and colours
    AGENT = "agent"  # bash --norc --noprofile, no prompts, no echo, TERM=dumb
    EXEC = "exec"  # runs `command` under the pty, then sends exit


class PtyInfo(BaseModel):
    pty_id: str
    pid: int
    mode: PtyMode
    cols: int
    rows: int
    attached: bool
    created_at: float
    exit_code: int | None = None  # set once the process ended (kept for one grace period)


class PtyResize(BaseModel):
    cols: int = Field(ge=1, le=1000)
    rows: int = Field(ge=1, le=1000)


class CommandStatus(StrEnum):
    RUNNING = "running"
    EXITED = "exited"
    KILLED = "killed"  # ended by a signal; exit_code is 128 + the signal number


class CommandInfo(BaseModel):
    command_id: str
    pid: int
    command: str
    status: CommandStatus
    exit_code: int | None
    started_at: float
    ended_at: float | None = None


class CommandStdin(BaseModel):
    data: str = ""
    eof: bool = Field(default=False, description="close the command's stdin after `data`")


class CommandKill(BaseModel):
    signal: str | int = Field(default="TERM", description="TERM, KILL, INT, HUP, ... or a number")


class SelfTestResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    cwd: str
    path: str
    shell: str
    user: str
    tools: dict[str, str | None]
    markers: dict[str, str]
    agent_version: str
    os: str
    ok: bool


# ---- workspace storage: snapshots, clones, git import


class SnapshotSpec(BaseModel):
    snapshot_id: str
    force: bool = Field(default=False, description="freeze an attached disk for the copy")


class SnapshotInfo(BaseModel):
    snapshot_id: str
    disk_id: str
    size_bytes: int
    allocated_bytes: int  # st_blocks * 512; extents shared by reflinks count in each file
    created_at: float


class CloneSpec(BaseModel):
    disk_id: str  # the new disk
    force: bool = Field(default=False, description="freeze an attached source disk for the copy")


class GitImportSpec(BaseModel):
    url: str  # "owner/repo" (under the host's git base URL) or an http(s):// or git:// URL
    ref: str | None = None  # branch, tag or commit; None: the remote's default branch
    token: str | None = None  # for private repositories; never stored


class GitImportResult(BaseModel):
    disk: DiskInfo
    commit: str  # the checked-out commit
    ref: str | None = None


class ImagePull(BaseModel):
    image: str  # registry/name:tag, registry/name@sha256:..., or an OCI layout dir / .tar path


class ImageInfo(BaseModel):
    image: str
    digest: str  # the linux/amd64 manifest's digest
    rootfs: str
