"""The VMs of this host: create, stop, observe, recover after a crash. Ops go through `ops.py`.

Crash safety rests on three habits:
1. `state.json` is written (atomically) before anything is allocated, so every allocation has a
   record a restarted daemon can find and undo.
2. Sandboxes run detached from the daemon (see the gVisor driver), so a daemon crash leaves them
   running; `recover()` re-listens on their sockets and adopts those whose agent comes back.
3. Every failure path calls `_destroy`, which releases everything in reverse and tolerates
   things that were never made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from chaser.host import admission, browser
from chaser.host.agent_link import AgentLink
from chaser.host.disks import DiskStore, mounted_under, unmount_path
from chaser.host.errors import (
    AgentUnavailable,
    ConcurrencyLimit,
    DaemonError,
    DiskBusy,
    DiskNotFound,
    RuntimeFailed,
    VmExists,
    VmNotFound,
    VmNotRunning,
)
from chaser.host.images import ImageCache
from chaser.host.layout import Layout, check_id, write_json
from chaser.host.runtimes.base import BootRequest, Runtime, SandboxStatus
from chaser.host.wire import DiskInfo, VmInfo, VmSpec, VmState

log = logging.getLogger(__name__)

AGENT_DIR = Path(__file__).resolve().parent.parent / "agent"
BOOT_TIMEOUT_S = 15.0
ADOPT_TIMEOUT_S = 5.0
RECONNECT_GRACE_S = 3.0
FLUSH_TIMEOUT_MS = 20_000


class VmRecord(BaseModel):
    """What `vms/<id>/state.json` holds."""

    spec: VmSpec
    created_at: float
    runtime: str
    accel: str
    rootfs: str
    agent_token: str
    phase: Literal["booting", "running", "stopped"] = "booting"
    exit_reason: str | None = None
    exit_cause: str | None = None  # see Runtime.exit_cause
    # The runtime's own id for the sandbox. It differs from vm_id once a warm-pool VM has been
    # handed out: the sandbox keeps the pool id it was booted with. Empty means vm_id.
    sandbox_id: str = ""
    # Booted ahead of demand by the warm pool and not yet handed out; invisible to the API.
    pooled: bool = False


@dataclass
class Vm:
    record: VmRecord
    link: AgentLink
    # Serialises lifecycle changes (boot, stop, marking exited) of this VM.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def vm_id(self) -> str:
        return self.record.spec.vm_id

    @property
    def sandbox_id(self) -> str:
        return self.record.sandbox_id or self.record.spec.vm_id


class VmManager:
    def __init__(
        self,
        layout: Layout,
        runtime: Runtime,
        images: ImageCache,
        disks: DiskStore,
        max_vms: int = 512,
        memory_reserve_mib: int | None = None,
        meminfo: Callable[[], admission.MemInfo] = admission.read_meminfo,
    ) -> None:
        self.layout = layout
        self.max_vms = max_vms
        self._meminfo = meminfo
        if memory_reserve_mib is None:
            try:
                memory_reserve_mib = admission.default_reserve_mib(meminfo().total_mib)
            except OSError:
                memory_reserve_mib = admission.MIN_RESERVE_MIB
        self.memory_reserve_mib = memory_reserve_mib
        self.runtime = runtime
        self.images = images
        self.disks = disks
        self._vms: dict[str, Vm] = {}
        # Guards the check-then-claim of a vm_id and of a disk between concurrent creates, and
        # the hand-out of a pooled VM (so one spare is never given to two sessions). Held by
        # storage operations too: under it, no VM attaches a disk they are changing.
        self.claims = asyncio.Lock()
        # Set when the warm pool should look again (a spare was taken or a VM stopped).
        self.pool_changed = asyncio.Event()
        # Set by the first browser session: from then on the warm pool keeps browser spares too.
        self.browser_wanted = False

    # ---- queries

    def attached_to(self, disk_id: str) -> str | None:
        for vm in self._vms.values():
            if vm.record.spec.disk_id == disk_id:
                return vm.vm_id
        return None

    def disk_info(self, disk_id: str) -> DiskInfo:
        return self.disks.info(disk_id, attached_to=self.attached_to(disk_id))

    def count(self) -> int:
        """VMs handed out to sessions (the warm pool's spares are not counted)."""
        return sum(1 for vm in self._vms.values() if not vm.record.pooled)

    def count_all(self) -> int:
        return len(self._vms)

    def rootfs_in_use(self) -> set[Path]:
        """The image root filesystems this daemon's VMs run on (spares included)."""
        return {Path(vm.record.rootfs) for vm in self._vms.values()}

    def pooled(self) -> list[Vm]:
        return [vm for vm in self._vms.values() if vm.record.pooled]

    def memory_need_mib(self, spec: VmSpec) -> int:
        """The most a VM of this spec may take from the host: guest RAM and the runtime's overhead."""
        return spec.memory_mib + self.runtime.memory_overhead_mib

    def starting_mib(self) -> int:
        """What VMs still booting may yet take: MemAvailable does not show them until they run."""
        return sum(
            self.memory_need_mib(vm.record.spec) for vm in self._vms.values() if vm.record.phase == "booting"
        )

    def memory_refusal(self, spec: VmSpec) -> str | None:
        """Why a VM of this spec may not start now (see `admission`), or None."""
        try:
            available = self._meminfo().available_mib
        except OSError:
            return None  # no /proc/meminfo: the VM count is the only limit
        return admission.refusal(
            available, self.memory_reserve_mib, self.starting_mib(), self.memory_need_mib(spec)
        )

    def spec_env(self, vm_id: str) -> dict[str, str]:
        """The session's env, applied to every exec (a pooled VM booted before it was known)."""
        return dict(self.get(vm_id).record.spec.env)

    def spec_session_type(self, vm_id: str) -> str:
        return self.get(vm_id).record.spec.session_type

    def get(self, vm_id: str) -> Vm:
        vm = self._vms.get(vm_id)
        if vm is None or vm.record.pooled:
            raise VmNotFound(f"no vm {vm_id!r} on this host")
        return vm

    async def info(self, vm_id: str) -> VmInfo:
        vm = self.get(vm_id)
        return self._info(vm, await self._observe(vm, None))

    async def list(self) -> list[VmInfo]:
        try:
            statuses: dict[str, SandboxStatus] | None = await self.runtime.list()
        except RuntimeFailed:
            statuses = None
        infos = []
        for vm in list(self._vms.values()):
            if vm.record.pooled:
                continue
            known = None if statuses is None else statuses.get(vm.sandbox_id, SandboxStatus.ABSENT)
            infos.append(self._info(vm, await self._observe(vm, known, ask=statuses is not None)))
        return infos

    async def _observe(self, vm: Vm, known: SandboxStatus | None, ask: bool = True) -> VmState:
        record = vm.record
        if record.phase == "stopped":
            return VmState.STOPPED
        if record.phase == "booting":
            return VmState.UNKNOWN
        if vm.link.connected:
            return VmState.RUNNING
        status = known if known is not None else (await self.runtime.state(vm.sandbox_id) if ask else None)
        if status in (SandboxStatus.STOPPED, SandboxStatus.ABSENT):
            await self._mark_exited(
                vm, "sandbox exited" if status is SandboxStatus.STOPPED else "sandbox vanished"
            )
            return VmState.STOPPED
        if status is SandboxStatus.RUNNING and await vm.link.wait_connected(0.0):
            return VmState.RUNNING
        return VmState.UNKNOWN  # running but the agent is away (mid-reconnect), or runsc unsure

    async def _mark_exited(self, vm: Vm, reason: str) -> None:
        async with vm.lock:
            if vm.record.phase != "running":
                return
            tail = _console_tail(self.layout.vm_dir(vm.vm_id) / "console.log")
            vm.record.phase = "stopped"
            vm.record.exit_cause = self.runtime.exit_cause(vm.sandbox_id)
            if vm.record.exit_cause == "memory_limit":
                reason = f"killed: over its memory limit ({vm.record.spec.memory_mib} MiB)"
            vm.record.exit_reason = f"{reason}: {tail}" if tail else reason
            self._save(vm.record)

    def _info(self, vm: Vm, state: VmState) -> VmInfo:
        spec = vm.record.spec
        return VmInfo(
            vm_id=spec.vm_id,
            state=state,
            runtime=vm.record.runtime,
            accel=vm.record.accel,
            image=spec.image,
            disk_id=spec.disk_id,
            created_at=vm.record.created_at,
            exit_reason=vm.record.exit_reason,
            exit_cause=vm.record.exit_cause,
            labels=spec.labels,
        )

    async def ready_link(self, vm_id: str) -> AgentLink:
        """The VM's agent link, waiting out a short reconnect; errors say why there is none."""
        vm = self.get(vm_id)
        if vm.link.connected:
            return vm.link
        if vm.record.phase == "running" and await vm.link.wait_connected(RECONNECT_GRACE_S):
            return vm.link
        if await self._observe(vm, None) is VmState.STOPPED:
            raise VmNotRunning(f"vm {vm_id!r} is stopped ({vm.record.exit_reason})")
        raise AgentUnavailable(f"vm {vm_id!r}: the agent is not connected")

    # ---- lifecycle

    def _save(self, record: VmRecord) -> None:
        write_json(self.layout.vm_dir(record.spec.vm_id) / "state.json", record.model_dump(mode="json"))

    async def create(self, spec: VmSpec, pooled: bool = False) -> VmInfo:
        check_id("vm_id", spec.vm_id)
        rootfs = self.images.resolve(spec.image)
        if not pooled and browser.is_browser(spec) and not self.browser_wanted:
            self.browser_wanted = True
            self.pool_changed.set()
        if not pooled and spec.disk_id is None:
            handed_out = await self._hand_out(spec)
            if handed_out is not None:
                return handed_out
        async with self.claims:
            if spec.vm_id in self._vms or self.layout.vm_dir(spec.vm_id).exists():
                raise VmExists(f"vm {spec.vm_id!r} already exists on this host")
            if not pooled and self.count() >= self.max_vms:
                raise ConcurrencyLimit(
                    f"this host runs its maximum of {self.max_vms} VMs; stop one first, "
                    "or raise CHASER_HOST_MAX_VMS"
                )
            # Checked and claimed under one lock, so concurrent creates each see the others' boots.
            refused = self.memory_refusal(spec)
            if refused is not None:
                raise ConcurrencyLimit(refused)
            if spec.disk_id is not None:
                if not self.disks.exists(spec.disk_id):
                    raise DiskNotFound(f"no disk {spec.disk_id!r}")
                owner = self.attached_to(spec.disk_id)
                if owner is not None:
                    raise DiskBusy(f"disk {spec.disk_id!r} is attached to vm {owner!r}")
            record = VmRecord(
                spec=spec,
                created_at=time.time(),
                runtime=self.runtime.name,
                accel=self.runtime.accel,
                rootfs=str(rootfs),
                agent_token=secrets.token_urlsafe(24),
                pooled=pooled,
            )
            vm_dir = self.layout.vm_dir(spec.vm_id)
            vm_dir.mkdir(parents=True)
            self._save(record)  # before any allocation: a crash from here on is recoverable
            vm = Vm(
                record,
                self.runtime.agent_link(
                    spec.vm_id, spec.vm_id, vm_dir / "sock" / "agent.sock", record.agent_token
                ),
            )
            self._vms[spec.vm_id] = vm
        async with vm.lock:
            try:
                await self._boot(vm)
            except BaseException as exc:
                log.warning("vm %s: create failed, cleaning up: %r", spec.vm_id, exc)
                await asyncio.shield(self._destroy(vm))
                if isinstance(exc, DaemonError | asyncio.CancelledError):
                    raise
                raise RuntimeFailed(f"vm {spec.vm_id!r}: {exc!r}") from exc
        return self._info(vm, VmState.RUNNING)

    async def _hand_out(self, spec: VmSpec) -> VmInfo | None:
        """Give a booted spare from the warm pool this VM's identity; None when none fits."""
        async with self.claims:
            if spec.vm_id in self._vms or self.layout.vm_dir(spec.vm_id).exists():
                raise VmExists(f"vm {spec.vm_id!r} already exists on this host")
            vm = next((v for v in self.pooled() if _fits(v, spec)), None)
            if vm is None:
                return None
            pool_id = vm.vm_id
            record = vm.record.model_copy(
                update={"spec": spec, "pooled": False, "sandbox_id": vm.sandbox_id, "created_at": time.time()}
            )
            # Record first, rename second: a crash between the two leaves a directory whose name
            # does not match its record, which recover() destroys instead of adopting.
            self._save_in(self.layout.vm_dir(pool_id), record)
            self.layout.vm_dir(pool_id).rename(self.layout.vm_dir(spec.vm_id))
            vm.record = record
            vm.link.vm_id = spec.vm_id
            vm.link.socket_path = self.layout.vm_dir(spec.vm_id) / "sock" / "agent.sock"
            del self._vms[pool_id]
            self._vms[spec.vm_id] = vm
        self.pool_changed.set()
        try:
            await self._apply_egress(vm)
        except BaseException:
            async with vm.lock:
                await asyncio.shield(self._destroy(vm))
            raise
        log.info("vm %s: handed out warm sandbox %s", spec.vm_id, vm.sandbox_id)
        return self._info(vm, VmState.RUNNING)

    def _save_in(self, vm_dir: Path, record: VmRecord) -> None:
        write_json(vm_dir / "state.json", record.model_dump(mode="json"))

    async def _boot(self, vm: Vm) -> None:
        spec, vm_dir = vm.record.spec, self.layout.vm_dir(vm.vm_id)
        await vm.link.listen()
        image = self.layout.disk_path(spec.disk_id) if spec.disk_id and self.runtime.disk_images else None
        workspace = await self.disks.mount(spec.disk_id) if spec.disk_id and image is None else None
        await self.runtime.boot(
            BootRequest(
                vm_id=spec.vm_id,
                rootfs=Path(vm.record.rootfs),
                bundle_dir=vm_dir / "bundle",
                agent_dir=AGENT_DIR,
                socket_dir=vm.link.socket_path.parent,
                workspace_dir=workspace,
                agent_token=vm.record.agent_token,
                console_log=vm_dir / "console.log",
                env=spec.env,
                vcpus=spec.vcpus,
                memory_mib=spec.memory_mib,
                workspace_image=image,
            )
        )
        if not await self._wait_agent(vm):
            tail = _console_tail(vm_dir / "console.log")
            raise AgentUnavailable(
                f"vm {vm.vm_id!r}: the agent did not connect within {BOOT_TIMEOUT_S:.0f}s {tail}"
            )
        if browser.is_browser(spec):
            await browser.start(vm.link, spec)
        if not vm.record.pooled:
            await self._apply_egress(vm)
        vm.record.phase = "running"
        self._save(vm.record)

    async def _apply_egress(self, vm: Vm) -> None:
        """Open (or keep shut) the VM's way out, as its session asked. Spares boot shut."""
        if self.runtime.network is not None:
            await self.runtime.network.allow_egress(vm.sandbox_id, vm.record.spec.internet_access)

    async def _wait_agent(self, vm: Vm) -> bool:
        """Wait for HELLO, giving up early if the sandbox exits first (e.g. the agent crashed)."""
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            if await vm.link.wait_connected(min(0.5, max(0.0, deadline - time.monotonic()))):
                return True
            if await self.runtime.state(vm.sandbox_id) in (SandboxStatus.STOPPED, SandboxStatus.ABSENT):
                return vm.link.connected
        return vm.link.connected

    async def stop(self, vm_id: str) -> None:
        """Destroy the VM and release its disk. Idempotent."""
        vm = self._vms.get(vm_id)
        if vm is None or vm.record.pooled:
            check_id("vm_id", vm_id)
            if self.layout.vm_dir(vm_id).exists():  # a leftover no live record points at
                await self._destroy_leftover(vm_id)
            return
        async with vm.lock:
            if browser.is_browser(vm.record.spec):
                await browser.stop(vm.link)  # so the profile on the workspace disk is complete
            await self._flush_guest(vm)
            await self._destroy(vm)

    async def _flush_guest(self, vm: Vm) -> None:
        """Write the guest's page cache to the workspace disk before the VM goes. A QEMU guest
        caches writes in its own kernel, so killing it would lose the last seconds of files
        (gVisor writes through to the host file, where a sync costs nothing)."""
        if not vm.record.spec.disk_id or not vm.link.connected:
            return
        with contextlib.suppress(DaemonError, TimeoutError, OSError):
            call = vm.link.call(
                "exec", {"command": "sync", "timeout_ms": FLUSH_TIMEOUT_MS, "max_output_bytes": 4096}
            )
            await asyncio.wait_for(call, FLUSH_TIMEOUT_MS / 1000 + 5)

    async def _destroy(self, vm: Vm) -> None:
        """Release everything a VM may hold, in reverse order; each step tolerates absence."""
        vm_id = vm.vm_id
        await vm.link.close()
        await self.runtime.stop(vm.sandbox_id)
        if vm.record.spec.disk_id:
            await self.disks.unmount(vm.record.spec.disk_id)
        shutil.rmtree(self.layout.vm_dir(vm_id), ignore_errors=True)
        if self._vms.get(vm_id) is vm:
            del self._vms[vm_id]
        self.pool_changed.set()

    async def discard_spare(self, vm: Vm) -> None:
        """Destroy a pooled VM that can no longer be handed out (its agent went away)."""
        async with self.claims:
            if self._vms.get(vm.vm_id) is not vm or not vm.record.pooled:
                return  # handed out meanwhile: it is a session's now
            async with vm.lock:
                await self._destroy(vm)

    async def discard_spares(self) -> None:
        for vm in self.pooled():
            with contextlib.suppress(DaemonError):
                await self.discard_spare(vm)

    async def _destroy_leftover(self, vm_id: str) -> None:
        await self.runtime.stop(vm_id)
        shutil.rmtree(self.layout.vm_dir(vm_id), ignore_errors=True)

    async def close(self) -> None:
        """Daemon shutdown: stop listening, leave every sandbox running for the next daemon."""
        for vm in list(self._vms.values()):
            await vm.link.close()

    # ---- recovery

    async def recover(self) -> None:
        """Adopt what survived a daemon crash; destroy what cannot be adopted."""
        self.layout.ensure()
        try:
            statuses = await self.runtime.list()
        except RuntimeFailed as exc:
            log.error("recover: cannot list sandboxes: %s", exc)
            statuses = {}
        candidates: list[Vm] = []
        for vm_dir in sorted(p for p in self.layout.vms.iterdir() if p.is_dir()):
            vm_id = vm_dir.name
            try:
                record = VmRecord.model_validate_json((vm_dir / "state.json").read_text())
            except (OSError, ValueError) as exc:
                log.warning("recover: vm %s has no readable state (%r): destroying", vm_id, exc)
                await self._destroy_leftover(vm_id)
                continue
            sandbox_id = record.sandbox_id or record.spec.vm_id
            if record.pooled or record.spec.vm_id != vm_id:
                # A spare of the old daemon's pool, or a hand-out cut short: nobody owns it.
                log.info("recover: vm dir %s (sandbox %s) is not a session's: destroying", vm_id, sandbox_id)
                await self.runtime.stop(sandbox_id)
                shutil.rmtree(vm_dir, ignore_errors=True)
                continue
            vm = Vm(
                record,
                self.runtime.agent_link(
                    vm_id, sandbox_id, vm_dir / "sock" / "agent.sock", record.agent_token
                ),
            )
            self._vms[vm_id] = vm
            if record.phase == "running" and statuses.get(sandbox_id) is SandboxStatus.RUNNING:
                await vm.link.listen()
                candidates.append(vm)
            else:
                log.warning(
                    "recover: vm %s (%s, sandbox %s): destroying", vm_id, record.phase, statuses.get(vm_id)
                )
                await self._destroy(vm)
        adopted = await asyncio.gather(*(vm.link.wait_connected(ADOPT_TIMEOUT_S) for vm in candidates))
        for vm, ok in zip(candidates, adopted, strict=True):
            if ok:
                log.info("recover: adopted vm %s", vm.vm_id)
            else:
                log.warning("recover: vm %s: agent did not come back: destroying", vm.vm_id)
                await self._destroy(vm)
        known_sandboxes = {vm.sandbox_id for vm in self._vms.values()}
        for vm_id in statuses:
            if vm_id not in known_sandboxes:
                log.warning("recover: sandbox %s has no vm record: deleting", vm_id)
                with contextlib.suppress(RuntimeFailed):
                    await self.runtime.stop(vm_id)
        in_use = {
            self.layout.mount_dir(vm.record.spec.disk_id)
            for vm in self._vms.values()
            if vm.record.spec.disk_id
        }
        for point in mounted_under(self.layout.mnt):
            if point not in in_use:
                log.warning("recover: unmounting orphan %s", point)
                await unmount_path(point)
                with contextlib.suppress(OSError):
                    point.rmdir()


def _fits(vm: Vm, spec: VmSpec) -> bool:
    have = vm.record.spec
    return (
        vm.record.phase == "running"
        and vm.link.connected
        and (have.image, have.session_type, have.vcpus, have.memory_mib)
        == (spec.image, spec.session_type, spec.vcpus, spec.memory_mib)
    )


def _console_tail(path: Path, limit: int = 600) -> str:
    try:
        data = path.read_bytes()[-limit:]
    except OSError:
        return ""
    return data.decode(errors="replace").strip()
