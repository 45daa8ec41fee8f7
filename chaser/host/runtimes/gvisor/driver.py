"""The gVisor runtime: `runsc` with the ptrace platform, host unix sockets allowed, and either
no network or (`network` given) gVisor's own netstack on the VM's namespace (chaser/host/network).

Every runsc call goes through `_runsc`, the one place its failures become `RuntimeFailed`.
Sandboxes are started with `run --detach` in their own session, so they outlive the daemon
(kill -9 included) and are adopted by the next daemon (see `chaser.host.vms.VmManager.recover`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path

from chaser.host.agent_link import AgentLink
from chaser.host.errors import RuntimeFailed
from chaser.host.network import HostNetwork
from chaser.host.runtimes.base import BootRequest, SandboxStatus
from chaser.host.runtimes.gvisor.spec import build_spec

RUNSC_TIMEOUT_S = 30.0
# runsc (Debian's 20221219) refuses to copy a namespace's interfaces if it thinks it is the host's:
# its test is "/proc/sys/net/core/rmem_default exists", which on kernels since 6.x is true in every
# namespace. The proc sysctl tree is looked up per namespace, so the file cannot be hidden alone:
# `runsc run` gets a private mount namespace with /proc/sys/net covered by an empty tmpfs (the
# sandbox's own /proc is gVisor's; nothing of runsc reads the host's /proc/sys/net otherwise).
ROOT_NS_CHECK_MASK = (
    "unshare", "--mount", "--propagation", "private", "sh", "-c",
    'mount -t tmpfs chaser-netmask /proc/sys/net && exec "$@"', "runsc-run",
)  # fmt: skip


def runsc_available() -> str | None:
    return shutil.which("runsc")


class GvisorRuntime:
    name = "gvisor"
    accel = "ptrace"
    disk_images = False
    # The Sentry and gofer of an idle ptrace sandbox, beyond the guest's memory (its cgroup limit).
    memory_overhead_mib = 64

    def agent_link(self, vm_id: str, sandbox_id: str, socket_path: Path, token: str) -> AgentLink:
        return AgentLink(vm_id, socket_path, token)  # bind-mounted in; the agent dials the daemon

    def __init__(
        self, root_dir: Path, runsc: str = "runsc", cgroups: bool = True, network: HostNetwork | None = None
    ) -> None:
        self._root = root_dir
        self.network = network
        self._binary = runsc
        self._cgroups = cgroups
        # Two daemons (two state dirs) may both run a VM called "x": keep their cgroups apart.
        self._cgroup_parent = "/chaser/" + hashlib.sha256(str(root_dir.resolve()).encode()).hexdigest()[:10]
        root_dir.mkdir(parents=True, exist_ok=True)

    def _global_flags(self) -> list[str]:
        return [
            f"--root={self._root}",
            "--platform=ptrace",
            "--network=sandbox" if self.network else "--network=none",
            "--host-uds=all",
            "--overlay2=root:memory",
            # runsc's own cgroup v1 handling works on this hybrid layout (crun's does not).
            *(["--cpu-num-from-quota"] if self._cgroups else ["--ignore-cgroups"]),
        ]

    async def _runsc(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        try:
            proc = await asyncio.create_subprocess_exec(
                self._binary,
                *self._global_flags(),
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                # Own session: a signal to the daemon's process group never reaches the sandbox.
                start_new_session=True,
            )
            out, err = await asyncio.wait_for(proc.communicate(), RUNSC_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise RuntimeFailed(f"runsc {args[0]}: {exc!r}") from exc
        code = proc.returncode if proc.returncode is not None else -1
        out_text = (out or b"").decode(errors="replace")
        err_text = (err or b"").decode(errors="replace")
        if check and code != 0:
            raise RuntimeFailed(f"runsc {args[0]} failed ({code}): {err_text.strip()[-2000:]}")
        return code, out_text, err_text

    async def boot(self, request: BootRequest) -> None:
        request.bundle_dir.mkdir(parents=True, exist_ok=True)
        config = request.bundle_dir / "config.json"
        tmp = config.with_suffix(".tmp")
        cgroups_path = f"{self._cgroup_parent}/{request.vm_id}" if self._cgroups else None
        net = await self.network.create(request.vm_id, tap=False) if self.network else None
        spec = build_spec(request, cgroups_path, netns=net.netns_path if net else None)
        tmp.write_text(json.dumps(spec, indent=1))
        os.replace(tmp, config)
        # The sandbox inherits this file as the container's stdout/stderr (the console log).
        # runsc's own stderr goes there too: a pipe would be inherited by the detached sandbox
        # and never reach EOF, so we wait for the exit status, not for end of output.
        with open(request.console_log, "ab") as console:
            offset = console.tell()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *(ROOT_NS_CHECK_MASK if self.network else ()),
                    self._binary,
                    *self._global_flags(),
                    "run",
                    "--detach",
                    f"--bundle={request.bundle_dir}",
                    request.vm_id,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=console,
                    stderr=console,
                    start_new_session=True,
                )
                code = await asyncio.wait_for(proc.wait(), RUNSC_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise RuntimeFailed(f"runsc run: {exc!r}") from exc
        if code != 0:
            with open(request.console_log, "rb") as console:
                console.seek(offset)
                tail = console.read()[-2000:].decode(errors="replace").strip()
            raise RuntimeFailed(f"runsc run failed ({code}): {tail}")

    async def stop(self, vm_id: str) -> None:
        code, _, err = await self._runsc("delete", "--force", vm_id, check=False)
        if code != 0 and "does not exist" not in err and "not found" not in err.lower():
            state = await self.state(vm_id)
            if state is not SandboxStatus.ABSENT:
                raise RuntimeFailed(f"runsc delete {vm_id} failed ({code}): {err.strip()[-2000:]}")
        self._prune_cgroup_parent()
        if self.network:
            await self.network.destroy(vm_id)

    def exit_cause(self, vm_id: str) -> str | None:
        """The sandbox's memory cgroup (v1) counts OOM kills until `runsc delete` removes it."""
        if not self._cgroups:
            return None
        oom = Path("/sys/fs/cgroup/memory") / self._cgroup_parent.lstrip("/") / vm_id / "memory.oom_control"
        with contextlib.suppress(OSError, ValueError):
            for line in oom.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return "memory_limit"
        return None

    def _prune_cgroup_parent(self) -> None:
        """runsc removes a sandbox's own cgroup; drop our per-daemon parent once it is empty."""
        if not self._cgroups:
            return
        for controller in Path("/sys/fs/cgroup").glob("*"):
            with contextlib.suppress(OSError):  # non-empty, absent, or not a cgroup v1 hierarchy
                (controller / self._cgroup_parent.lstrip("/")).rmdir()

    async def list(self) -> dict[str, SandboxStatus]:
        _, out, _ = await self._runsc("list", "--format=json")
        entries = json.loads(out or "[]") or []
        return {entry["id"]: _status(entry.get("status", "")) for entry in entries}

    async def state(self, vm_id: str) -> SandboxStatus:
        try:
            code, out, err = await self._runsc("state", vm_id, check=False)
        except RuntimeFailed:
            return SandboxStatus.UNKNOWN
        if code != 0:
            if "does not exist" in err or "not found" in err.lower():
                return SandboxStatus.ABSENT
            return SandboxStatus.UNKNOWN
        try:
            return _status(json.loads(out).get("status", ""))
        except ValueError:
            return SandboxStatus.UNKNOWN


def _status(raw: str) -> SandboxStatus:
    if raw in ("running", "created", "paused"):
        return SandboxStatus.RUNNING
    if raw == "stopped":
        return SandboxStatus.STOPPED
    return SandboxStatus.UNKNOWN
