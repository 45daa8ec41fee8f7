"""Integration fixtures: a real `chaser server` per records backend, users, and a spawner for tests
that kill the server (those get their own data directory).

The records-heavy tests take the parametrized `server` fixture and run against SQLite and
PostgreSQL; sandbox-heavy tests take `sqlite_server` (with `sandbox_user`). The foundation tests
that must hold on every runtime take `on_runtime`, parametrized over gVisor and qemu (a server
started with `--runtime qemu`, TCG where KVM is unusable). Servers are started once per session
and shared, so every test creates its own user (fresh email) to stay independent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from chaser.host.reap import DaemonRunning, qemu_pids
from chaser.host.reap import reap as host_reap
from tests.factories import User, make_user
from tests.integration.postgres import cluster, find_bindir, free_port

REPO = Path(__file__).resolve().parents[2]
CHASER = REPO / ".venv" / "bin" / "chaser"
IMAGE_CACHE = Path(os.environ.get("CHASER_IMAGE_CACHE", "/var/cache/chaser/images"))
START_TIMEOUT_S = 120


class Server:
    """One `chaser server` subprocess on a free port over a data directory it may be restarted on."""

    def __init__(
        self,
        root: Path,
        database_url: str | None = None,
        runtime: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.runtime = runtime  # `--runtime`; None: the server's default (auto)
        self.data_dir = root / "data"
        self.log_path = root / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "CHASER_HOST_PORT": str(free_port())}
        self.env.pop("CHASER_DATABASE_URL", None)
        if database_url:
            self.env["CHASER_DATABASE_URL"] = database_url
        self.env.update(env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [str(CHASER), "server", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        if self.runtime is not None:
            argv += ["--runtime", self.runtime]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chaser server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return
            time.sleep(0.25)
        raise RuntimeError(f"chaser server not healthy after {START_TIMEOUT_S}s:\n{self.log_tail()}")

    def healthy(self) -> bool:
        """`GET /healthz` answers 200 and names a host: the supervised host daemon is up."""
        try:
            resp = httpx.get(f"{self.url}/healthz", timeout=5)
            body = resp.json()
        except (httpx.HTTPError, ValueError):
            return False
        return (
            resp.status_code == 200 and isinstance(body, dict) and bool(body.get("host") or body.get("hosts"))
        )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def host_pid(self) -> int:
        """The supervised host daemon: the server's child process running `chaser ... host`."""
        assert self.proc is not None
        for pid in _children(self.proc.pid):
            args = _cmdline(pid).split()
            if "host" in args or any(a.startswith("chaser.host") for a in args):
                return pid
        raise AssertionError(
            f"no host daemon among the children of {self.proc.pid}: "
            f"{[_cmdline(p) for p in _children(self.proc.pid)]}"
        )

    def cli(self, *args: str) -> str:
        proc = subprocess.run(
            [str(CHASER), *args, "--data-dir", str(self.data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"chaser {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    def create_user(self, email: str) -> dict[str, str]:
        out = self.cli("admin", "create-user", "--email", email)
        return json.loads(out.strip().splitlines()[-1])

    def create_key(self, email: str, account: str) -> dict[str, str]:
        """A full-access key for an existing member, bound to `account` (`chaser admin create-key`)."""
        out = self.cli("admin", "create-key", "--email", email, "--account", account)
        return json.loads(out.strip().splitlines()[-1])

    def host_info(self) -> dict[str, Any]:
        """The host daemon's info from `/healthz` (`runtime`, `accel`, ...)."""
        info: dict[str, Any] = httpx.get(f"{self.url}/healthz", timeout=10).json()["host"]
        return info

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def mounts_under(path: Path) -> list[str]:
    """Mount points below `path` (from /proc/mounts)."""
    prefix = str(path.resolve())
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


@contextlib.contextmanager
def running_server(
    database_url: str | None = None, runtime: str | None = None, env: dict[str, str] | None = None
) -> Iterator[Server]:
    root = Path(tempfile.mkdtemp(prefix="chaser-it-"))
    server = Server(root, database_url, runtime, env)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        reap(server.data_dir)
        # A data dir that still has mounts is evidence (and rmtree would walk into the mounts).
        if not mounts_under(server.data_dir):
            shutil.rmtree(root, ignore_errors=True)


def reap(data_dir: Path) -> None:
    """Stops what a stopped server left running in its data dir (its sandboxes survive a SIGTERM,
    see docs/decisions.md), so the suite leaks no sandbox, VM or mount: the product's own
    `chaser admin reap`, once the server's host daemon has exited."""
    deadline = time.monotonic() + 15
    while True:
        try:
            host_reap(data_dir / "host")
            return
        except DaemonRunning:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def runtime_missing() -> str | None:
    if not shutil.which("runsc"):
        return "needs the gVisor runtime: runsc is not installed (make test installs it)"
    if not (IMAGE_CACHE / "base").exists():
        return f"needs the base image: {IMAGE_CACHE / 'base'} is missing (images/build-base.sh builds it)"
    return None


def qemu_missing() -> str | None:
    """What the qemu runtime needs and this machine lacks: QEMU, and the VM files built from the
    base image (`vm.<base dir name>`, which is how the host daemon finds them)."""
    if not shutil.which("qemu-system-x86_64"):
        return "needs the qemu runtime: qemu-system-x86_64 is not installed (images/build-vm.sh installs it)"
    base = IMAGE_CACHE / "base"
    if not base.exists():
        return f"needs the base image: {base} is missing (images/build-base.sh builds it)"
    vm = IMAGE_CACHE / f"vm.{base.resolve().name}"
    if not (vm / "rootfs.ext4").exists():
        return f"needs the qemu VM image: {vm} is missing (images/build-vm.sh builds it)"
    return None


def skip_loudly(config: pytest.Config, reason: str) -> NoReturn:
    """Skip, and say so on the terminal past pytest's output capture (besides the `-ra` summary):
    a runtime whose tests silently do not run is a hole in the suite."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\nSKIP {reason}", file=sys.stderr, flush=True)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("needs PostgreSQL server binaries (initdb); scripts/test.sh installs Debian's postgresql")
    with cluster(bindir) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_server() -> Iterator[Server]:
    """The shared server most tests use. On gVisor whenever runsc is installed: on a KVM host
    `auto` would pick QEMU, and the deep (gVisor-specific) suites expect gVisor sandboxes."""
    with running_server(runtime="gvisor" if shutil.which("runsc") else None) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server(pg_url: str) -> Iterator[Server]:
    with running_server(pg_url) as server:
        yield server


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> Server:
    """The records backends: every records-heavy test runs once on each."""
    return request.getfixturevalue(f"{request.param}_server")


QEMU_WARM_POOL_SIZE = 1  # one spare (~60 MB under TCG) makes an ephemeral create a hand-out


@pytest.fixture(scope="session")
def gvisor_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server on gVisor: the shared `sqlite_server` when its `auto` runtime picked gVisor (no
    usable KVM, as here), else one started with `--runtime gvisor`."""
    reason = runtime_missing()
    if reason:
        skip_loudly(request.config, f"gvisor runtime: {reason}")
    shared: Server = request.getfixturevalue("sqlite_server")
    if shared.host_info()["runtime"] == "gvisor":
        yield shared
        return
    with running_server(runtime="gvisor") as server:
        yield server


@pytest.fixture(scope="session")
def qemu_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server started with `--runtime qemu` (KVM when usable, else TCG) and a one-VM warm pool."""
    reason = qemu_missing()
    if reason:
        skip_loudly(request.config, f"qemu runtime: {reason}")
    env = {"CHASER_HOST_WARM_POOL_SIZE": str(QEMU_WARM_POOL_SIZE)}
    with running_server(runtime="qemu", env=env) as server:
        assert server.host_info()["runtime"] == "qemu", server.host_info()
        yield server


@pytest.fixture(scope="session", params=["gvisor", "qemu"])
def runtime_server(request: pytest.FixtureRequest) -> tuple[str, Server]:
    """The sandbox runtimes: every foundation test that takes it runs once on each."""
    return request.param, request.getfixturevalue(f"{request.param}_server")


def live_sandboxes(server: Server, runtime: str) -> set[str]:
    """Sandbox ids the runtime runs for this server: runsc's containers, or the run directories
    (`host/qemu/<sandbox id>/`) named on live QEMU command lines."""
    host = server.data_dir / "host"
    if runtime == "gvisor":
        listed = subprocess.run(
            ["runsc", f"--root={host / 'runsc-root'}", "list", "--quiet"],
            capture_output=True,
            text=True,
            check=False,
        )
        return set(listed.stdout.split())
    marker = f"{(host / 'qemu').resolve()}/"
    found = set()
    for pid in qemu_pids(host):
        try:
            words = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        found |= {w.split(marker, 1)[1].split("/", 1)[0] for w in words if marker in w}
    return found


@dataclass(frozen=True)
class OnRuntime:
    """One runtime's server and a fresh user on it."""

    runtime: str  # "gvisor" | "qemu"
    server: Server
    user: User

    def log_tail(self, lines: int = 40) -> str:
        return self.server.log_tail(lines)


@pytest.fixture
def on_runtime(runtime_server: tuple[str, Server]) -> OnRuntime:
    name, server = runtime_server
    return OnRuntime(name, server, make_user(server))


@pytest.fixture
def runtime() -> None:
    reason = runtime_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def runtime_module() -> None:
    """`runtime` for module-scoped fixtures that start one sandbox shared by a module's tests."""
    reason = runtime_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def user(server: Server) -> User:
    return make_user(server)


@pytest.fixture
def other_user(server: Server) -> User:
    return make_user(server)


@pytest.fixture
def sandbox_user(runtime: None, sqlite_server: Server) -> User:
    return make_user(sqlite_server)


@pytest.fixture
def other_user_sandbox(runtime: None, sqlite_server: Server) -> User:
    return make_user(sqlite_server)


@pytest.fixture
def spawn_server() -> Iterator[Callable[[], Server]]:
    """Own servers for tests that kill -9 them; stopped (and their data dir removed) at the end."""
    stack = contextlib.ExitStack()

    def spawn() -> Server:
        return stack.enter_context(running_server())

    with stack:
        yield spawn
