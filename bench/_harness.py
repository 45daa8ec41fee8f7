"""Shared plumbing for the benchmarks: a throwaway `chaser server`, statistics, and output.

Every benchmark prints a table and writes JSON with its dimensions (runtime, accel, host, commit),
so two revisions can be compared run against run.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
CHASER = REPO / ".venv" / "bin" / "chaser"
RESULTS = REPO / "bench" / "results"


@dataclass
class Server:
    url: str
    key: str
    data_dir: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=120.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(runtime: str | None = None, env: dict[str, str] | None = None) -> Iterator[Server]:
    """A fresh server in a temporary data directory, with one user; stopped on exit.

    `runtime` is `chaser server --runtime`; `env` adds to its environment (e.g. CHASER_HOST_*)."""
    with tempfile.TemporaryDirectory(prefix="chaser-bench-") as tmp:
        data_dir, port = Path(tmp), _free_port()
        log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - closed below
        argv = [str(CHASER), "server", "--data-dir", str(data_dir), "--port", str(port)]
        proc = subprocess.Popen(
            argv + (["--runtime", runtime] if runtime else []),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/healthz", timeout=2).json().get("host"):
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {data_dir / 'server.log'}")
                time.sleep(0.2)
            create_user = [
                "admin",
                "create-user",
                "--email",
                "bench@example.com",
                "--data-dir",
                str(data_dir),
            ]
            out = subprocess.run(
                [str(CHASER), *create_user],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            yield Server(url=url, key=json.loads(out)["key"], data_dir=data_dir)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
            # The server stops restart-safe (sessions keep running): stop them for good, once its
            # host daemon has exited (reap refuses while one still serves the data dir).
            for _ in range(50):
                reap = [str(CHASER), "admin", "reap", "--data-dir", str(data_dir)]
                if subprocess.run(reap, capture_output=True, check=False).returncode == 0:
                    break
                time.sleep(0.2)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50": round(statistics.median(ordered), 2),
        "p90": round(q[89], 2),
        "p95": round(q[94], 2),
        "p99": round(q[98], 2),
        "min": round(ordered[0], 2),
        "n": len(ordered),
    }


def commit() -> str:
    with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout.strip()
    return "unknown"


def report(name: str, rows: list[tuple[str, dict[str, float]]], extra: dict[str, object]) -> Path:
    """Print a table of percentile rows and write `bench/results/<name>.json`."""
    print(f"\n{name}  ({platform.node()}, {os.cpu_count()} cpus, commit {commit()})")
    print(f"{'measurement':<58}{'p50 ms':>10}{'p90 ms':>10}{'p95 ms':>10}{'min ms':>10}{'n':>5}")
    for label, stats in rows:
        p50, p90, p95, low, n = (stats[k] for k in ("p50", "p90", "p95", "min", "n"))
        print(f"{label:<58}{p50:>10.2f}{p90:>10.2f}{p95:>10.2f}{low:>10.2f}{n:>5}")
    for key, value in extra.items():
        print(f"{key}: {value}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "commit": commit(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": {label: stats for label, stats in rows},
        **extra,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")
    return path
