"""`chaser server`: the data directory, the host daemon as a supervised child, then the API.

The host daemon runs as `python -m chaser.cli.main host ...` with its token in the environment.
It gets PR_SET_PDEATHSIG=SIGTERM so even a `kill -9` of the server takes it down (the kernel
sends the signal when the forking *thread* exits, so the supervisor thread lives as long as the
server). A daemon that dies is restarted with exponential backoff.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console

from chaser.settings import ServerSettings

log = logging.getLogger("chaser.server")
console = Console(stderr=True, soft_wrap=True)
PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def host_token(host_dir: Path) -> str:
    """The shared secret between API and host daemon; created once, readable only by us."""
    host_dir.mkdir(parents=True, exist_ok=True)
    path = host_dir / "token"
    if path.exists() and path.read_text().strip():
        os.chmod(path, 0o600)
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    return token


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    # The parent may already be gone between fork and prctl.
    if os.getppid() == 1:
        os._exit(1)


class HostSupervisor:
    """Keeps one `chaser host` child running until `stop()`."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="host-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        logfile = open(self.log_path, "ab")  # noqa: SIM115 (the child owns it for its lifetime)
        try:
            return subprocess.Popen(
                self.argv, env=self.env, stdout=logfile, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        finally:
            logfile.close()

    def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self.proc = self._spawn()
            except OSError as exc:
                console.print(f"[red]could not start the host daemon: {exc}[/red]")
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            code = self.proc.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > 60:
                backoff = 0.5  # it ran a good while: a fresh failure, not a crash loop
            console.print(
                f"[yellow]host daemon exited with code {code}; restarting in {backoff:.1f}s "
                f"(log: {self.log_path})[/yellow]"
            )
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stopping.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._thread.join(timeout=5)


def wait_for_host(url: str, token: str, timeout_s: float) -> dict[str, object] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            r = httpx.get(f"{url}/info", headers={"Authorization": f"Bearer {token}"}, timeout=2.0)
            if r.status_code == 200:
                info: dict[str, object] = r.json()
                return info
        time.sleep(0.2)
    return None


def run_server(*, data_dir: Path | None, host: str | None, port: int | None, runtime: str | None) -> None:
    import uvicorn

    from chaser.api.app import create_app

    overrides: dict[str, object] = {}
    for key, value in (("data_dir", data_dir), ("host", host), ("port", port), ("runtime", runtime)):
        if value is not None:
            overrides[key] = value
    settings = ServerSettings(**overrides)  # type: ignore[arg-type]
    settings.data_dir = settings.data_dir.resolve()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per host call (every reconcile pass) would drown the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    host_dir = settings.data_dir / "host"
    token = host_token(host_dir)
    # CHASER_HOST_PORT pins the daemon's port (tests use it); otherwise any free port.
    host_port = int(os.environ.get("CHASER_HOST_PORT") or free_port())
    host_url = f"http://127.0.0.1:{host_port}"
    argv = [
        sys.executable,
        "-m",
        "chaser.cli.main",
        "host",
        "--state-dir",
        str(host_dir),
        "--port",
        str(host_port),
    ]
    argv += ["--runtime", settings.runtime]
    env = {**os.environ, "CHASER_HOST_TOKEN": token, "CHASER_HOST_IMAGE_CACHE": str(settings.image_cache)}
    supervisor = HostSupervisor(argv, env, host_dir / "daemon.log")
    supervisor.start()
    try:
        info = wait_for_host(host_url, token, timeout_s=60.0)
        if info is None:
            console.print(
                f"[yellow]host daemon not answering yet (log: {host_dir / 'daemon.log'}); "
                "serving anyway, session calls answer 503 until it is up[/yellow]"
            )
        else:
            console.print(f"host daemon ready: runtime={info.get('runtime')} accel={info.get('accel')}")
        app = create_app(settings, host_url=host_url, host_token=token)
        console.print(
            f"Chaser API on {settings.resolved_public_url()}  (docs: {settings.resolved_public_url()}/docs)\n"
            f"Get an API key: chaser admin create-user --email you@example.com --data-dir {settings.data_dir}"
        )
        # Open PTY sockets and SSE streams would hold a SIGTERM'd server forever: bound the wait.
        uvicorn.run(
            app, host=settings.host, port=settings.port, log_level="info", timeout_graceful_shutdown=5
        )
    finally:
        supervisor.stop()
