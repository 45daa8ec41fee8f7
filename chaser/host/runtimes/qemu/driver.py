"""The qemu runtime: QEMU VMs (KVM or TCG) restored from a booted template, agent on virtio-serial.

- Create = restore: the first create of an (image, agent, accel, machine, size) cold-boots a
  template VM, waits for its agent and saves it (see `persist.py`); every create restores from it
  with its own qcow2 overlay, `cont`s it, hot-plugs the workspace disk (q35) and gives it a fresh
  identity through the agent's `vm_refresh` op (seed, hostname, machine-id, clock, new token).
- QEMU runs in its own session, so it outlives the daemon; `<state>/qemu/<sandbox_id>/` (pidfile,
  sockets, overlay) is how the next daemon finds, adopts or deletes it.
- The agent is not in the root filesystem: the host makes a small read-only ext4 of chaser/agent,
  keyed by a hash of its sources, and attaches it as a second disk (chaser-init mounts it at
  /opt/chaser/chaser_agent), so an agent change needs a new template, never an image rebuild.
- Every failure path leaves nothing: `stop()` kills by pidfile and removes the run directory, and
  template builds clean up their temporary directory (or the next daemon does, after a kill -9).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from chaser.host.agent_dial import DialingAgentLink
from chaser.host.agent_link import AgentLink
from chaser.host.commands import run
from chaser.host.errors import AgentUnavailable, DaemonError, ImageNotFound, RuntimeFailed
from chaser.host.images.prune import mark_used
from chaser.host.network import HostNetwork
from chaser.host.runtimes.base import BootRequest, SandboxStatus
from chaser.host.runtimes.qemu import persist
from chaser.host.runtimes.qemu.argv import MachineConfig, build_argv, workspace_hotplug
from chaser.host.runtimes.qemu.limits import Limits
from chaser.host.runtimes.qemu.qmp import Qmp

log = logging.getLogger(__name__)

AGENT_SOURCES = Path(__file__).resolve().parents[3] / "agent"
QEMU = "qemu-system-x86_64"
QEMU_START_TIMEOUT_S = 15.0
COLD_BOOT_TIMEOUT_S = 120.0  # TCG: 7-8 s alone; much more when several boot at once
PROBE_TIMEOUT_S = 12.0
REFRESH_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
MAX_SOCKET_PATH = 100


def qemu_available() -> str | None:
    return shutil.which(QEMU)


@dataclass(frozen=True)
class VmFiles:
    """What images/build-vm.sh made for one base image."""

    dir: Path
    kernel: Path
    initrd: Path
    rootfs: Path

    @classmethod
    def for_rootfs(cls, rootfs_dir: Path) -> VmFiles:
        """`<cache>/base-<hash>/rootfs` → `<cache>/vm.base-<hash>/` (resolved)."""
        link = rootfs_dir.parent.parent / f"vm.{rootfs_dir.parent.name}"
        vm_dir = link.resolve()
        files = cls(vm_dir, vm_dir / "vmlinuz", vm_dir / "initramfs.cpio.gz", vm_dir / "rootfs.ext4")
        if not files.rootfs.is_file():
            raise ImageNotFound(f"no VM image for {rootfs_dir.parent.name} (run images/build-vm.sh)")
        return files


def _agent_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(AGENT_SOURCES.rglob("*.py")):
        digest.update(str(path.relative_to(AGENT_SOURCES)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


async def _run(*argv: str) -> None:
    code, out = await run(*argv)
    if code != 0:
        raise RuntimeFailed(f"{argv[0]} failed ({code}): {out[-1500:]}")


def _pid_alive(pid: int, marker: str) -> bool:
    """Alive, not a zombie, and really ours (its command line names our run directory)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return marker.encode() in f.read()
    except (OSError, IndexError):
        return False


class _Qemu:
    """One QEMU process: our child (`proc`), or adopted after a daemon restart (pid only)."""

    def __init__(self, run_dir: Path, proc: asyncio.subprocess.Process | None = None) -> None:
        self.run_dir = run_dir
        self.proc = proc

    @property
    def pid(self) -> int | None:
        if self.proc is not None:
            return self.proc.pid
        try:
            return int((self.run_dir / "qemu.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.returncode is None
        pid = self.pid
        return pid is not None and _pid_alive(pid, str(self.run_dir))

    async def kill(self) -> None:
        if self.proc is not None:
            if self.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT_S)
            return
        pid = self.pid
        if pid is None or not _pid_alive(pid, str(self.run_dir)):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and _pid_alive(pid, str(self.run_dir)):
            await asyncio.sleep(0.02)


class QemuRuntime:
    name = "qemu"
    disk_images = True  # workspace disks are attached as image files, never loop-mounted

    def __init__(
        self,
        state_dir: Path,
        accel: str,
        template_root: Path | None = None,
        binary: str = QEMU,
        network: HostNetwork | None = None,
    ) -> None:
        self.accel = accel
        self.network = network
        self._binary = binary
        self._root = state_dir / "qemu"
        self._root.mkdir(parents=True, exist_ok=True)
        self._template_root = template_root
        self._qemus: dict[str, _Qemu] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._links: dict[str, DialingAgentLink] = {}
        self._cached_ram: set[str] = set()  # template keys whose RAM file this daemon has read
        self.limits = Limits(state_dir)
        self.memory_overhead_mib = self.limits.overhead_mib

    # ---- paths and bookkeeping

    def run_dir(self, sandbox_id: str) -> Path:
        return self._root / sandbox_id

    def _qemu(self, sandbox_id: str) -> _Qemu:
        known = self._qemus.get(sandbox_id)
        if known is None:
            known = _Qemu(self.run_dir(sandbox_id))
        return known

    def pid(self, sandbox_id: str) -> int | None:
        qemu = self._qemu(sandbox_id)
        return qemu.pid if qemu.alive() else None

    def templates_dir(self, files: VmFiles) -> Path:
        return self._template_root if self._template_root is not None else files.dir / "templates"

    def machine_for(self, workspace: bool) -> str:
        # microvm has no PCIe to hot-plug a workspace disk into; KVM boots q35 fast enough.
        return "microvm" if self.accel == "kvm" and not workspace else "q35"

    def agent_link(self, vm_id: str, sandbox_id: str, socket_path: Path, token: str) -> AgentLink:
        run = self.run_dir(sandbox_id)
        link = DialingAgentLink(vm_id, socket_path, token, run / "agent.sock", run / "agent.ready")
        self._links[sandbox_id] = link
        return link

    async def _spawn(self, cfg: MachineConfig, log_path: Path) -> asyncio.subprocess.Process:
        for sock in (cfg.qmp_socket, cfg.agent_socket):
            if len(str(sock)) > MAX_SOCKET_PATH:
                raise RuntimeFailed(f"socket path too long for a unix socket: {sock}")
        with open(log_path, "ab") as out:
            try:
                return await asyncio.create_subprocess_exec(
                    *build_argv(cfg, self._binary),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    start_new_session=True,  # outlives the daemon; signals to the daemon never reach it
                )
            except OSError as exc:
                raise RuntimeFailed(f"cannot start {self._binary}: {exc!r}") from exc

    # ---- the agent disk and templates

    async def _agent_disk(self, root: Path) -> Path:
        image = root / f"agent-{_agent_hash()}.ext4"
        if image.exists():
            mark_used(image)
            return image
        root.mkdir(parents=True, exist_ok=True)
        stage = root / f".agent-{uuid.uuid4().hex[:8]}"
        try:
            shutil.copytree(
                AGENT_SOURCES, stage / "tree", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
            await _run(
                "mkfs.ext4", "-q", "-F", "-L", "chaser-agent", "-O", "^has_journal",
                "-d", str(stage / "tree"), str(stage / "agent.ext4"), "16M",
            )  # fmt: skip
            os.replace(stage / "agent.ext4", image)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return image

    def _config(self, files: VmFiles, run: Path, agent_disk: Path, **kw: object) -> MachineConfig:
        return MachineConfig(
            kernel=files.kernel,
            initrd=files.initrd,
            agent_disk=agent_disk,
            qmp_socket=run / "qmp.sock",
            agent_socket=run / "agent.sock",
            pidfile=run / "qemu.pid",
            **kw,  # type: ignore[arg-type]
        )

    async def template(
        self, files: VmFiles, machine: str, vcpus: int, memory_mib: int
    ) -> tuple[Path, persist.TemplateMeta, Path]:
        """The saved template for these settings (cold-booting and saving it on first use), its
        metadata, and the agent disk it was booted with, which its restored VMs must attach."""
        root = self.templates_dir(files)
        root.mkdir(parents=True, exist_ok=True)
        agent_disk = await self._agent_disk(root)
        key = hashlib.sha256(
            json.dumps(
                [
                    files.dir.name,
                    agent_disk.name,
                    self.accel,
                    machine,
                    vcpus,
                    memory_mib,
                    self.network is not None,
                    2,
                ]
            ).encode()
        ).hexdigest()[:16]
        final = root / key
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            meta = persist.read_meta(final)
            if meta is None:
                with open(root / f".{key}.lock", "w") as lock_file:  # other daemons sharing the cache
                    await asyncio.to_thread(fcntl.flock, lock_file, fcntl.LOCK_EX)
                    meta = persist.read_meta(final)
                    if meta is None:
                        meta = await self._build_template(
                            files, agent_disk, root, key, machine, vcpus, memory_mib
                        )
            if key not in self._cached_ram:
                # The template's RAM file enters the page cache charged to the daemon, not to the
                # first VM that faults it: a VM's memory cgroup then holds only what the VM wrote,
                # so going over its limit is an OOM kill, not a VM thrashing on shared clean pages.
                await asyncio.to_thread(_read_through, final / "mem.ram")
                self._cached_ram.add(key)
            return final, meta, agent_disk

    async def _build_template(
        self,
        files: VmFiles,
        agent_disk: Path,
        root: Path,
        key: str,
        machine: str,
        vcpus: int,
        memory_mib: int,
    ) -> persist.TemplateMeta:
        await self._reap_stale_builds(root)
        tmp = root / f".{key}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        token = secrets.token_urlsafe(24)
        qemu = _Qemu(tmp)
        qmp = Qmp(f"template-{key}", tmp / "qmp.sock")
        net_id = _template_net_id(tmp)
        started = time.monotonic()
        try:
            net = await self.network.create(net_id, tap=True) if self.network else None
            cfg = self._config(
                files, tmp, agent_disk,
                accel=self.accel, machine=machine, vcpus=vcpus, memory_mib=memory_mib,
                root_disk=tmp / "root.qcow2", console_log=tmp / "console.log", agent_token=token,
                memory_file=tmp / "mem.ram", memory_shared=True,
                netns=net.netns_path if net else None,
            )  # fmt: skip
            await _run(
                "qemu-img",
                "create",
                "-q",
                "-f",
                "qcow2",
                "-F",
                "raw",
                "-b",
                str(files.rootfs),
                str(cfg.root_disk),
            )
            qemu.proc = await self._spawn(cfg, tmp / "qemu.log")
            await qmp.connect(QEMU_START_TIMEOUT_S, qemu.alive)
            link = await self._await_agent(tmp, token, COLD_BOOT_TIMEOUT_S, qemu)
            boot_s = time.monotonic() - started
            # Disconnect before saving, and let the guest see it and park in its next HELLO: a VM
            # saved with the host connected thinks, once restored, that it still is (our connect
            # can beat virtio-serial's post-load "host closed" event), and never says HELLO again.
            await link.close()
            await asyncio.sleep(0.5)
            saved = time.monotonic()
            await persist.save(qmp, tmp / "state.bin", qemu.alive)
            save_s = time.monotonic() - saved
            await qmp.close()
            await qemu.kill()
            if self.network:
                await self.network.destroy(net_id)
            meta = persist.TemplateMeta(key, self.accel, machine, vcpus, memory_mib, token, boot_s, save_s)
            for name in ("qmp.sock", "agent.sock", "qemu.pid"):
                with contextlib.suppress(FileNotFoundError):
                    (tmp / name).unlink()
            persist.write_meta(tmp, meta)
            os.replace(tmp, root / key)
            log.info("qemu template %s: cold boot %.1fs, save %.2fs", key, boot_s, save_s)
            return meta
        except BaseException:
            tail = _tail(tmp / "console.log") + _tail(tmp / "qemu.log")
            await qmp.close()
            await qemu.kill()
            if self.network:
                await asyncio.shield(self.network.destroy(net_id))
            shutil.rmtree(tmp, ignore_errors=True)
            log.warning("qemu template %s failed: %s", key, tail)
            raise

    async def _reap_stale_builds(self, root: Path) -> None:
        """Template builds a killed daemon left (`.<key>.tmp-<pid>`, pid no longer a daemon)."""
        for tmp in root.glob(".*.tmp-*"):
            owner = tmp.name.rsplit("-", 1)[-1]
            if owner.isdigit() and int(owner) != os.getpid() and Path(f"/proc/{owner}").exists():
                continue
            stale = _Qemu(tmp)
            pid = stale.pid
            if pid is not None and _pid_alive(pid, str(tmp)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if self.network:
                await self.network.destroy(_template_net_id(tmp))
            shutil.rmtree(tmp, ignore_errors=True)

    async def _await_agent(self, run: Path, token: str, timeout: float, qemu: _Qemu) -> DialingAgentLink:
        """Connect to the agent with the given token and return the open link (caller closes)."""
        link = DialingAgentLink(run.name, run / "no-listen.sock", token, run / "agent.sock")
        await link.listen()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if await link.wait_connected(0.2):
                    break
                if not qemu.alive():
                    raise RuntimeFailed(f"qemu exited before its agent answered: {_tail(run / 'qemu.log')}")
            else:
                raise AgentUnavailable(f"the agent did not answer within {timeout:.0f}s")
        finally:
            if not link.connected:
                await link.close()
        return link

    # ---- Runtime

    async def boot(self, request: BootRequest) -> None:
        files = VmFiles.for_rootfs(request.rootfs)
        workspace = request.workspace_image
        machine = self.machine_for(workspace is not None)
        template, meta, agent_disk = await self.template(files, machine, request.vcpus, request.memory_mib)
        for used in (template, files.dir):
            mark_used(used)
        run = self.run_dir(request.vm_id)
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
        net = await self.network.create(request.vm_id, tap=True) if self.network else None
        cfg = self._config(
            files, run, agent_disk,
            accel=self.accel, machine=machine, vcpus=request.vcpus, memory_mib=request.memory_mib,
            root_disk=run / "root.qcow2", console_log=run / "console.log", agent_token=meta.agent_token,
            memory_file=template / "mem.ram", memory_shared=False, incoming=True,
            netns=net.netns_path if net else None,
        )  # fmt: skip
        await _run(
            "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
            "-b", str(template / "root.qcow2"), str(cfg.root_disk),
        )  # fmt: skip
        t0 = time.monotonic()
        # The daemon reads the console at `request.console_log` (its VM dir, renamed on a warm-pool
        # hand-out); the file lives in our run dir so we can append why QEMU died.
        request.console_log.unlink(missing_ok=True)
        request.console_log.symlink_to(run / "console.log")
        qemu = _Qemu(run, await self._spawn(cfg, run / "qemu.log"))
        self._qemus[request.vm_id] = qemu
        self.limits.apply(request.vm_id, qemu.proc.pid if qemu.proc else 0, request.vcpus, request.memory_mib)
        qmp = Qmp(f"vm-{request.vm_id}", cfg.qmp_socket)
        try:
            await qmp.connect(QEMU_START_TIMEOUT_S, qemu.alive)
            await persist.load(qmp, template / "state.bin", qemu.alive)
            if workspace is not None:
                for command, args in workspace_hotplug(workspace):
                    await qmp.execute(command, args)
        except DaemonError as exc:
            raise RuntimeFailed(f"restore failed: {exc.message}: {_tail(run / 'qemu.log')}") from exc
        finally:
            await qmp.close()
        t1 = time.monotonic()
        link = self._links.get(request.vm_id)
        if link is not None:
            # The daemon's own link (see `agent_link`) takes the template's HELLO, carries the
            # refresh and then keeps the connection: no reconnect, whose close/open pair a
            # virtio-serial reader in the guest can miss.
            link.set_token(meta.agent_token)
            link.ready_path = None
            if not await link.wait_connected(REFRESH_TIMEOUT_S):
                raise AgentUnavailable(f"vm {request.vm_id}: the restored agent did not answer")
        else:
            link = await self._await_agent(run, meta.agent_token, REFRESH_TIMEOUT_S, qemu)
        t2 = time.monotonic()
        try:
            await link.call("vm_refresh", self._identity(request, workspace is not None))
        finally:
            link.set_token(request.agent_token)
            if self._links.get(request.vm_id) is not link:
                await link.close()
        (run / "agent.ready").touch()
        link.ready_path = run / "agent.ready"
        log.info(
            "vm %s: restored in %.2fs (qemu+load %.2fs, agent %.2fs, refresh %.2fs)",
            request.vm_id,
            time.monotonic() - t0,
            t1 - t0,
            t2 - t1,
            time.monotonic() - t2,
        )

    def _identity(self, request: BootRequest, workspace: bool) -> dict[str, object]:
        return {
            "token": request.agent_token,
            "hostname": request.hostname,
            "machine_id": uuid.uuid4().hex,
            "seed": secrets.token_hex(64),
            "time": time.time(),
            "workspace": workspace,
        }

    async def stop(self, vm_id: str) -> None:
        self._links.pop(vm_id, None)
        qemu = self._qemus.pop(vm_id, None) or _Qemu(self.run_dir(vm_id))
        await qemu.kill()
        if qemu.alive():
            raise RuntimeFailed(f"qemu of {vm_id} did not die")
        shutil.rmtree(qemu.run_dir, ignore_errors=True)
        await self.limits.remove(vm_id)
        if self.network:
            await self.network.destroy(vm_id)

    async def list(self) -> dict[str, SandboxStatus]:
        return {p.name: await self.state(p.name) for p in self._root.iterdir() if p.is_dir()}

    async def state(self, vm_id: str) -> SandboxStatus:
        qemu = self._qemu(vm_id)
        if not qemu.run_dir.is_dir():
            return SandboxStatus.ABSENT
        if qemu.alive():
            return SandboxStatus.RUNNING
        self._note_death(vm_id)
        return SandboxStatus.STOPPED

    def exit_cause(self, vm_id: str) -> str | None:
        return "memory_limit" if self.limits.oom_killed(vm_id) else None

    def _note_death(self, vm_id: str) -> None:
        """Say in the console log (whose tail becomes the exit reason) why QEMU died, once."""
        run = self.run_dir(vm_id)
        marker = run / "exit-noted"
        if marker.exists() or not run.is_dir():
            return
        if self.limits.oom_killed(vm_id):
            reason = f"killed: memory limit exceeded (guest RAM + {self.limits.overhead_mib} MiB)"
        else:
            reason = "qemu exited: " + (_tail(run / "qemu.log", 300) or "no message")
        with open(run / "console.log", "a") as console:
            console.write(f"\nchaser: {reason}\n")
        marker.touch()


def _read_through(path: Path, chunk: int = 1 << 20) -> None:
    with contextlib.suppress(OSError), open(path, "rb", buffering=0) as f:
        buffer = bytearray(chunk)
        while f.readinto(buffer):
            pass


def _template_net_id(build_dir: Path) -> str:
    """The network name of a template build (`.<key>.tmp-<pid>` → `tpl-<key>-<pid>`)."""
    key, _, pid = build_dir.name.lstrip(".").partition(".tmp-")
    return f"tpl-{key}-{pid}"


def _tail(path: Path, limit: int = 800) -> str:
    try:
        return path.read_bytes()[-limit:].decode(errors="replace").strip()
    except OSError:
        return ""


async def cold_boot(state_dir: Path, files: VmFiles, accel: str, machine: str, timeout: float) -> bool:
    """Boot a throwaway VM from scratch: True once its agent answers within `timeout`. Leaves nothing."""
    runtime = QemuRuntime(state_dir, accel)
    run = runtime.run_dir(f"cold-{os.getpid()}-{secrets.token_hex(3)}")
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    qemu = _Qemu(run)
    try:
        agent_disk = await runtime._agent_disk(state_dir / "qemu-agent")
        token = secrets.token_urlsafe(16)
        await _run(
            "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw",
            "-b", str(files.rootfs), str(run / "root.qcow2"),
        )  # fmt: skip
        cfg = runtime._config(
            files, run, agent_disk, accel=accel, machine=machine, vcpus=1, memory_mib=256,
            root_disk=run / "root.qcow2", console_log=run / "console.log", agent_token=token,
        )  # fmt: skip
        qemu.proc = await runtime._spawn(cfg, run / "qemu.log")
        link = await runtime._await_agent(run, token, timeout, qemu)
        await link.close()
        return True
    except DaemonError as exc:
        log.info("cold boot (%s, %s): no agent (%s)", accel, machine, exc.message)
        return False
    finally:
        await qemu.kill()
        shutil.rmtree(run, ignore_errors=True)


async def probe_kvm(state_dir: Path, files: VmFiles, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Cold-boot a throwaway microVM with `-accel kvm`: True if its agent answers within `timeout`."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    return await cold_boot(state_dir, files, "kvm", "microvm", timeout)


def kvm_usable(state_dir: Path, files: VmFiles) -> bool:
    """The KVM probe, cached per host boot and VM image (`kvm-probe.json` beside the image): on a
    PVM host the probe costs its whole timeout, so it is paid once, not at every daemon start."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot_id = ""
    cache = files.dir / "kvm-probe.json"
    with contextlib.suppress(OSError, ValueError):
        cached = json.loads(cache.read_text())
        if cached.get("boot_id") == boot_id:
            return bool(cached["kvm"])
    started = time.monotonic()
    ok = asyncio.run(probe_kvm(state_dir, files))
    log.info("kvm probe: %s in %.1fs", "usable" if ok else "not usable", time.monotonic() - started)
    with contextlib.suppress(OSError):
        cache.write_text(json.dumps({"boot_id": boot_id, "kvm": ok, "probe_s": time.monotonic() - started}))
    return ok
