"""`chaser host`: build the pieces from settings and serve the internal API (blocking).

SIGTERM/SIGINT end the daemon without stopping sandboxes: the next daemon adopts them. A parent
(`chaser server`) may set PDEATHSIG on this process; that is the same as a SIGTERM or a kill -9.
"""

from __future__ import annotations

import contextlib
import logging
import resource

import uvicorn

from chaser.host.api import create_app
from chaser.host.disks import DiskStore
from chaser.host.errors import DaemonError
from chaser.host.images import ImageCache
from chaser.host.layout import Layout
from chaser.host.network import HostNetwork, network_missing
from chaser.host.pool import WarmPool
from chaser.host.runtimes.base import Runtime
from chaser.host.runtimes.gvisor.driver import GvisorRuntime, runsc_available
from chaser.host.runtimes.qemu.driver import QemuRuntime, VmFiles, kvm_usable, qemu_available
from chaser.host.storage.pool import open_pool
from chaser.host.vms import VmManager
from chaser.settings import HostSettings

log = logging.getLogger(__name__)


class NoRuntime(RuntimeError):
    pass


def pick_runtime(settings: HostSettings, layout: Layout) -> Runtime:
    """`auto`: qemu with KVM when a probe VM boots under KVM, else gVisor (the fast runtime without
    usable KVM), else TCG qemu. `qemu` forces qemu (KVM if the probe passes, else TCG)."""
    if settings.runtime not in ("auto", "gvisor", "qemu"):
        raise NoRuntime(f"unknown runtime {settings.runtime!r} (have: auto, qemu, gvisor)")
    runsc = runsc_available() if settings.runtime != "qemu" else None
    if settings.runtime in ("auto", "qemu"):
        qemu = _qemu_runtime(settings, layout, need_kvm=settings.runtime == "auto" and runsc is not None)
        if qemu is not None:
            return qemu
    if settings.runtime == "gvisor" or runsc is not None:
        if runsc is None:
            raise NoRuntime("no usable runtime: runsc (gVisor) is not installed; run scripts/bootstrap.sh")
        return GvisorRuntime(layout.runsc_root, runsc=runsc, network=host_network(settings, layout))
    raise NoRuntime("no usable runtime: neither runsc nor qemu (run scripts/bootstrap.sh)")


def _qemu_runtime(settings: HostSettings, layout: Layout, need_kvm: bool) -> QemuRuntime | None:
    forced = settings.runtime == "qemu"
    try:
        if qemu_available() is None:
            raise NoRuntime("qemu-system-x86_64 is not installed (run images/build-vm.sh)")
        files = VmFiles.for_rootfs(ImageCache(settings.image_cache).resolve("base"))
    except (NoRuntime, DaemonError) as exc:
        if forced:
            raise NoRuntime(f"runtime qemu: {exc}") from exc
        return None
    accel = settings.qemu_accel
    if accel not in ("kvm", "tcg"):
        accel = "kvm" if kvm_usable(layout.root, files) else "tcg"
    if need_kvm and accel != "kvm":
        return None
    log.info("runtime: qemu with %s", accel)
    return QemuRuntime(
        layout.root, accel, template_root=settings.qemu_templates, network=host_network(settings, layout)
    )


def host_network(settings: HostSettings, layout: Layout) -> HostNetwork | None:
    """The VMs' network, its host rules installed; None when turned off by the settings."""
    if not settings.network:
        log.info("network: off (CHASER_HOST_NETWORK=false): VMs have no network interface")
        return None
    missing = network_missing()
    if missing:
        raise NoRuntime(f"VM networking: {missing}; or set CHASER_HOST_NETWORK=false to run VMs without one")
    network = HostNetwork(layout.root)
    try:
        network.setup()
    except DaemonError as exc:
        raise NoRuntime(f"VM networking: {exc.message}; or set CHASER_HOST_NETWORK=false") from exc
    return network


def build(settings: HostSettings) -> tuple[VmManager, str]:
    layout = Layout(settings.state_dir)
    layout.ensure()
    runtime = pick_runtime(settings, layout)
    manager = VmManager(
        layout,
        runtime,
        ImageCache(settings.image_cache),
        DiskStore(layout),
        max_vms=settings.max_vms,
        memory_reserve_mib=settings.memory_reserve_mib,
    )
    return manager, layout.host_id()


def raise_fd_limit() -> None:
    """Each VM holds a few sockets in the daemon: the usual soft limit (1024) would run out before
    `max_vms`, so take what the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def serve(settings: HostSettings) -> None:
    """Run the host daemon until SIGTERM/SIGINT. Recovers (adopts or cleans up) VMs first."""
    raise_fd_limit()
    storage = open_pool(Layout(settings.state_dir), settings.storage_pool_bytes, settings.storage_pool)
    manager, host_id = build(settings)
    pool = WarmPool(
        manager,
        size=settings.warm_pool_size,
        max_vms=settings.max_vms,
        browser_size=settings.warm_pool_browser_size,
    )
    app = create_app(
        manager,
        settings.token,
        host_id,
        pool=pool,
        pty_grace_s=settings.pty_grace_s,
        image_retention_s=settings.image_retention_days * 86_400,
    )
    app.state.storage, app.state.git_base_url = storage, settings.git_base_url
    config = uvicorn.Config(
        app,
        host=settings.listen_host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        # A hung exec or an open pty socket would hold a SIGTERM'd daemon forever: bound the wait
        # (its VMs keep running and are adopted by the next daemon).
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()
