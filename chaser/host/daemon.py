"""`chaser host`: build the pieces from settings and serve the internal API (blocking).

SIGTERM/SIGINT end the daemon without stopping sandboxes: the next daemon adopts them. A parent
(`chaser server`) may set PDEATHSIG on this process; that is the same as a SIGTERM or a kill -9.
"""

from __future__ import annotations

import logging

import uvicorn

from chaser.host.api import create_app
from chaser.host.disks import DiskStore
from chaser.host.images import ImageCache
from chaser.host.layout import Layout
from chaser.host.pool import WarmPool
from chaser.host.runtimes.base import Runtime
from chaser.host.runtimes.gvisor.driver import GvisorRuntime, runsc_available
from chaser.host.vms import VmManager
from chaser.settings import HostSettings

log = logging.getLogger(__name__)


class NoRuntime(RuntimeError):
    pass


def pick_runtime(settings: HostSettings, layout: Layout) -> Runtime:
    """`auto` picks the best runtime this host can run; only gVisor exists so far."""
    if settings.runtime not in ("auto", "gvisor"):
        raise NoRuntime(f"runtime {settings.runtime!r} is not available on this host (have: gvisor)")
    runsc = runsc_available()
    if runsc is None:
        raise NoRuntime("no usable runtime: runsc (gVisor) is not installed; run scripts/bootstrap.sh")
    return GvisorRuntime(layout.runsc_root, runsc=runsc)


def build(settings: HostSettings) -> tuple[VmManager, str]:
    layout = Layout(settings.state_dir)
    layout.ensure()
    runtime = pick_runtime(settings, layout)
    manager = VmManager(
        layout, runtime, ImageCache(settings.image_cache), DiskStore(layout), max_vms=settings.max_vms
    )
    return manager, layout.host_id()


def serve(settings: HostSettings) -> None:
    """Run the host daemon until SIGTERM/SIGINT. Recovers (adopts or cleans up) VMs first."""
    manager, host_id = build(settings)
    pool = WarmPool(manager, size=settings.warm_pool_size, max_vms=settings.max_vms)
    app = create_app(manager, settings.token, host_id, pool=pool)
    config = uvicorn.Config(
        app,
        host=settings.listen_host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    uvicorn.Server(config).run()
