"""One Chromium, kept running: started with a profile and extension dirs, restarted with backoff
when it dies on its own, stopped gracefully (CDP `Browser.close`, so cookies and local storage are committed).

Threads: op threads call `start`/`stop`/`status`; one watcher thread per launched process waits
for it and relaunches. `_lock` guards every field below, so a stop and a crash-restart never
both act on the same process.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from . import cdp

BINARY_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
LOG_PATH = "/tmp/chaser-chromium.log"
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 15.0  # Browser.close commits the profile; a loaded host needs a while
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 10.0
STABLE_AFTER_S = 30.0  # a run this long resets the backoff
# Closed network here: every background fetch would only wait and log.
QUIET_FLAGS = (
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--password-store=basic",
)


@dataclass
class Config:
    profile_dir: str
    extensions_dir: str
    port: int = 9222
    window: str = "1280,800"


@dataclass
class Exit:
    at: float
    code: int | None
    ran_s: float


@dataclass
class State:
    config: Config | None = None
    pid: int | None = None
    started_at: float | None = None
    restarts: int = 0  # relaunches after a crash (not counting requested restarts)
    exits: list[Exit] = field(default_factory=list)  # the last few unrequested exits
    extensions: list[str] = field(default_factory=list)


def chromium_binary() -> str:
    for path in BINARY_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return BINARY_CANDIDATES[-1]


def extension_dirs(extensions_dir: str) -> list[str]:
    """Unpacked extensions: every direct subdirectory holding a manifest.json, sorted by name."""
    return sorted(os.path.dirname(p) for p in glob.glob(os.path.join(extensions_dir, "*", "manifest.json")))


def argv(config: Config, extensions: list[str]) -> list[str]:
    args = [
        chromium_binary(),
        # --headless (the "new" headless mode) is full Chromium: it loads extensions, which the
        # old headless shell cannot. --no-sandbox: everything in the VM runs as root (the VM is
        # the boundary).
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        *QUIET_FLAGS,
        f"--remote-debugging-port={config.port}",
        # The gateway authenticates every CDP client; Chromium's Origin check would only refuse
        # the live-view page and DevTools frontends.
        "--remote-allow-origins=*",
        f"--user-data-dir={config.profile_dir}",
        f"--window-size={config.window}",
    ]
    if extensions:
        joined = ",".join(extensions)
        args += [f"--load-extension={joined}", f"--disable-extensions-except={joined}"]
    return [*args, "about:blank"]


class Supervisor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = State()
        self._proc: subprocess.Popen[bytes] | None = None
        self._wanted = False  # False: an exit is expected (stop/restart), not a crash
        self._generation = 0  # bumps on every requested (re)launch; stale watchers give up
        self._backoff = BACKOFF_START_S / 2  # doubled before each crash-restart

    # -- ops ---------------------------------------------------------------------------------

    def start(self, config: Config, wait: bool = True) -> dict[str, Any]:
        """(Re)launch with `config`; a running Chromium with the same config and extensions is
        left alone. Waits until CDP answers when `wait`."""
        with self._lock:
            same = (
                self._proc is not None
                and self._proc.poll() is None
                and self._state.config == config
                and self._state.extensions == extension_dirs(config.extensions_dir)
            )
        if not same:
            self._stop_process()
            with self._lock:
                self._state.config = config
                self._generation += 1
                self._wanted = True
                self._launch_locked()
        if wait:
            self.wait_ready(READY_TIMEOUT_S)
        return self.status()

    def stop(self) -> dict[str, Any]:
        self._stop_process()
        return self.status()

    def status(self) -> dict[str, Any]:
        with self._lock:
            state = self._state
            running = self._proc is not None and self._proc.poll() is None
            body = asdict(state)
        body["running"] = running
        body["version"] = _version(state.config.port) if running and state.config else None
        body["ready"] = body["version"] is not None
        return body

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                config = self._state.config
                alive = self._proc is not None and self._proc.poll() is None
            if config is not None and alive and _version(config.port) is not None:
                return
            time.sleep(0.1)
        raise TimeoutError(f"Chromium's CDP did not answer within {timeout:.0f}s; see {LOG_PATH}")

    # -- process -----------------------------------------------------------------------------

    def _launch_locked(self) -> None:
        config = self._state.config
        assert config is not None
        os.makedirs(config.profile_dir, exist_ok=True)
        os.makedirs(config.extensions_dir, exist_ok=True)
        # The profile belongs to this VM alone (a workspace disk is attached to one VM at a
        # time), so a lock left by a VM that was killed is stale: Chromium would refuse it.
        for name in ("SingletonLock", "SingletonSocket", "SingletonCookie"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(config.profile_dir, name))
        extensions = extension_dirs(config.extensions_dir)
        with open(LOG_PATH, "ab") as log:
            self._proc = subprocess.Popen(
                argv(config, extensions),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop kills renderers too
                env={**os.environ, "HOME": "/root"},
            )
        self._state.pid = self._proc.pid
        self._state.started_at = time.time()
        self._state.extensions = extensions
        proc, generation = self._proc, self._generation
        watcher = threading.Thread(target=self._watch, args=(proc, generation), name="chromium-watch")
        watcher.daemon = True
        watcher.start()

    def _watch(self, proc: subprocess.Popen[bytes], generation: int) -> None:
        started = time.monotonic()
        code = proc.wait()
        ran = time.monotonic() - started
        with self._lock:
            if generation != self._generation or not self._wanted or self._proc is not proc:
                return  # a requested stop or relaunch: not a crash
            self._state.exits = [*self._state.exits, Exit(time.time(), code, round(ran, 3))][-10:]
            stable = ran >= STABLE_AFTER_S
            self._backoff = BACKOFF_START_S if stable else min(self._backoff * 2, BACKOFF_MAX_S)
            delay = self._backoff
        _kill_group(proc.pid)  # renderers left behind by a crashed browser process
        time.sleep(delay)
        with self._lock:
            if generation != self._generation or not self._wanted:
                return
            self._state.restarts += 1
            self._launch_locked()  # starts the next watcher

    def _stop_process(self) -> None:
        with self._lock:
            self._wanted = False
            self._generation += 1
            proc = self._proc
            config = self._state.config
        if proc is None or proc.poll() is not None:
            return
        # Browser.close, not SIGTERM: only the clean shutdown commits cookies and local storage.
        if config is None or not cdp.close_browser(config.port):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_GRACE_S)
        _kill_group(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(2.0)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _version(port: int) -> dict[str, Any] | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        conn.request("GET", "/json/version")
        resp = conn.getresponse()
        if resp.status != 200:
            return None
        body = json.loads(resp.read())
        return body if isinstance(body, dict) else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()


SUPERVISOR = Supervisor()
