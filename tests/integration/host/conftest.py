"""A real host daemon (subprocess, real runsc) on a free port with a temporary state dir."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from chaser.host.client import HostClient
from chaser.host.network import HostNetwork
from chaser.host.network.plan import netns_name, scope
from chaser.host.wire import VmSpec
from chaser.settings import DEFAULT_IMAGE_CACHE

REPO = Path(__file__).resolve().parents[3]
TOKEN = "test-token"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope: modules share one VM through module-scoped async fixtures."""
    return "asyncio"


@contextlib.asynccontextmanager
async def running_vm(daemon: Daemon, spec: VmSpec) -> AsyncIterator[HostClient]:
    """A client of `daemon` with the VM `spec` created; the VM is stopped on the way out."""
    client = daemon.client()
    await client.create_vm(spec)
    try:
        yield client
    finally:
        await client.stop_vm(spec.vm_id)
        await client.aclose()


def _skip_unless_gvisor() -> None:
    if shutil.which("runsc") is None:
        reason = "gvisor: runsc is not installed (apt-get install runsc / scripts/bootstrap.sh)"
        print(f"\nSKIP {reason}", file=sys.stderr)
        pytest.skip(reason)
    if os.geteuid() != 0:
        reason = "gvisor: the host daemon needs root (runsc, loop mounts)"
        print(f"\nSKIP {reason}", file=sys.stderr)
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemon:
    """One state dir; the daemon process on it can be killed and restarted."""

    def __init__(self, image_cache: Path, warm_pool_size: int = 0, env: dict[str, str] | None = None) -> None:
        self.extra_env = env or {}
        # No spares unless a test asks: most tests count exactly the VMs they made.
        self.warm_pool_size = warm_pool_size
        # Short path: agent sockets live under it.
        self.state_dir = Path(tempfile.mkdtemp(prefix="chs-", dir="/tmp"))
        self.image_cache = image_cache
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.state_dir.parent / f"{self.state_dir.name}.log"

    def start(self, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "CHASER_HOST_STATE_DIR": str(self.state_dir),
            "CHASER_HOST_PORT": str(self.port),
            "CHASER_HOST_TOKEN": TOKEN,
            "CHASER_HOST_IMAGE_CACHE": str(self.image_cache),
            "CHASER_HOST_WARM_POOL_SIZE": str(self.warm_pool_size),
            **self.extra_env,
        }
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "chaser.host"], cwd=REPO, env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"host daemon exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}"
                )
            try:
                r = httpx.get(f"{self.url}/info", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=1)
                if r.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"host daemon did not come up:\n{self.log.read_text()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # e.g. a request it still serves: cleanup must go on
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.proc = None

    def client(self) -> HostClient:
        return HostClient(self.url, TOKEN)

    def runsc_ids(self) -> list[str]:
        out = subprocess.run(
            ["runsc", f"--root={self.state_dir / 'runsc-root'}", "list", "--quiet"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return [line for line in out.split() if line]

    def mounts(self, with_pool: bool = False) -> list[str]:
        """Mounts under the state dir; the storage pool's own (state_dir/pool) only if asked."""
        prefix, pool = str(self.state_dir) + "/", str(self.state_dir / "pool")
        with open("/proc/self/mountinfo") as f:
            points = [line.split()[4] for line in f if line.split()[4].startswith(prefix)]
        return [p for p in points if with_pool or p != pool]

    def networks(self) -> list[str]:
        """The VM network namespaces this daemon made (named after its state dir)."""
        prefix = netns_name(scope(self.state_dir), "")
        netns = Path("/run/netns")
        return sorted(p.name for p in netns.iterdir() if p.name.startswith(prefix)) if netns.exists() else []

    def vm_dirs(self) -> list[str]:
        vms = self.state_dir / "vms"
        return sorted(p.name for p in vms.iterdir()) if vms.exists() else []

    def destroy(self) -> None:
        """Leave nothing behind even if a test failed halfway."""
        self.kill(signal.SIGTERM)
        for vm_id in self.runsc_ids():
            subprocess.run(
                ["runsc", f"--root={self.state_dir / 'runsc-root'}", "delete", "--force", vm_id],
                capture_output=True,
                check=False,
            )
        for point in sorted(self.mounts(with_pool=True), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
        HostNetwork(self.state_dir).release_all()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.log.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def image_cache() -> Path:
    _skip_unless_gvisor()
    cache = Path(os.environ.get("CHASER_IMAGE_CACHE", DEFAULT_IMAGE_CACHE))
    if not (cache / "base" / "rootfs").is_dir():
        subprocess.run(["bash", str(REPO / "images" / "build-base.sh")], check=True)
    return cache


@pytest.fixture(scope="module")
def module_daemon(image_cache: Path) -> Iterator[Daemon]:
    """One daemon for a whole test module, for tests that only need a VM to talk to."""
    d = Daemon(image_cache)
    try:
        d.start()
        yield d
    finally:
        d.destroy()


@pytest.fixture
def daemon(image_cache: Path) -> Iterator[Daemon]:
    d = Daemon(image_cache)
    try:
        d.start()
        yield d
    finally:
        d.destroy()
