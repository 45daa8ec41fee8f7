"""The interface every runtime driver implements, so a QEMU driver can sit beside gVisor's."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chaser.host.agent_link import AgentLink
    from chaser.host.network import HostNetwork


class SandboxStatus(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"  # exists, but its process has exited
    ABSENT = "absent"  # the runtime has no such sandbox
    UNKNOWN = "unknown"  # the runtime could not be asked


@dataclass(frozen=True)
class BootRequest:
    vm_id: str
    rootfs: Path
    bundle_dir: Path  # per-VM directory the runtime may write into
    agent_dir: Path  # host directory of the chaser.agent package, mounted read-only
    socket_dir: Path  # host directory holding agent.sock, mounted at /run/chaser
    workspace_dir: Path | None  # mounted at /workspace; None = ephemeral (in the root overlay)
    agent_token: str
    console_log: Path
    env: dict[str, str] = field(default_factory=dict)
    vcpus: int = 1
    memory_mib: int = 512
    hostname: str = "chaser"
    # The workspace disk's image file, for runtimes with `disk_images` (attached as a block device;
    # `workspace_dir` is then None: the image is never loop-mounted on the host at the same time).
    workspace_image: Path | None = None


class Runtime(Protocol):
    name: str  # "gvisor" | "qemu"
    accel: str  # "ptrace" | "kvm" | "tcg"
    disk_images: bool  # True: give it workspace image files; False: mounted directories
    network: HostNetwork | None  # each sandbox's own namespace; None: sandboxes have no network
    # What one VM may cost the host beyond its guest RAM, at most (memory admission charges a
    # booting VM memory_mib + this).
    memory_overhead_mib: int

    def agent_link(self, vm_id: str, sandbox_id: str, socket_path: Path, token: str) -> AgentLink:
        """The host's end of a sandbox's agent channel (`socket_path`: the daemon's per-VM socket)."""

    async def boot(self, request: BootRequest) -> None:
        """Start the sandbox detached (it outlives the daemon). Raises RuntimeFailed."""

    async def stop(self, vm_id: str) -> None:
        """Kill and delete the sandbox. Idempotent."""

    async def list(self) -> dict[str, SandboxStatus]:
        """Every sandbox this runtime knows, by vm_id."""

    async def state(self, vm_id: str) -> SandboxStatus:
        """One sandbox's status; UNKNOWN when the runtime cannot be asked."""

    def exit_cause(self, vm_id: str) -> str | None:
        """Why a stopped sandbox ended, when the runtime knows: `memory_limit` (killed for going
        over its memory limit); None otherwise. Asked before the sandbox is deleted."""
