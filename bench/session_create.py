"""Session create and exec latency, beside the bare runtime measured in the same run.

(a) create an ephemeral sandbox and get the first exec output, vs `runsc do /bin/true` on the same
    root filesystem (the cost of the isolation itself); ratio of the medians.
(b) exec round trip of `true` in a running session, vs a local `subprocess.run(["true"])`.

Usage: .venv/bin/python bench/session_create.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from _harness import percentiles, report, running_server


def base_rootfs() -> str:
    """The root filesystem sessions boot from (`images/build-base.sh` points `base` at it)."""
    cache = Path(os.environ.get("CHASER_IMAGE_CACHE", "/var/cache/chaser/images"))
    return str((cache / "base" / "rootfs").resolve(strict=True))


def bare_runsc(rootfs: str, runs: int) -> list[float]:
    samples = []
    with tempfile.TemporaryDirectory(prefix="chaser-bench-runsc-") as state:
        argv = ["runsc", "--root", state, "--platform=ptrace", "--network=none", "--ignore-cgroups"]
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([*argv, "do", "--root", rootfs, "/bin/true"], check=True, capture_output=True)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def local_true(runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(["true"], check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    rootfs = base_rootfs()
    with running_server() as server, server.client() as api:
        info = api.get("/healthz").json()["host"]
        create_ms: list[float] = []
        for _ in range(args.runs):
            start = time.perf_counter()
            session = api.post("/v1/sessions", json={"ephemeral": True}).raise_for_status().json()
            out = api.post(f"/v1/sessions/{session['id']}/exec", json={"command": "echo ready"})
            assert out.raise_for_status().json()["output"].strip() == "ready"
            create_ms.append((time.perf_counter() - start) * 1000)
            api.delete(f"/v1/sessions/{session['id']}", params={"force": "true"}).raise_for_status()
        baseline_ms = bare_runsc(rootfs, args.runs)

        session = api.post("/v1/sessions", json={"ephemeral": True}).raise_for_status().json()
        exec_ms: list[float] = []
        for _ in range(args.runs + 5):
            start = time.perf_counter()
            api.post(f"/v1/sessions/{session['id']}/exec", json={"command": "true"}).raise_for_status()
            exec_ms.append((time.perf_counter() - start) * 1000)
        exec_ms = exec_ms[5:]  # the first few warm the connection pool and the guest's page cache
        api.delete(f"/v1/sessions/{session['id']}", params={"force": "true"}).raise_for_status()
    local_ms = local_true(args.runs)

    create, baseline = percentiles(create_ms), percentiles(baseline_ms)
    exec_rt, local = percentiles(exec_ms), percentiles(local_ms)
    ratio = round(create["p50"] / baseline["p50"], 2)
    report(
        "session_create",
        [
            ("(a) create ephemeral sandbox -> first exec output", create),
            ("(a) baseline: runsc do /bin/true, same rootfs", baseline),
            ("(b) exec round trip of `true` in a running session", exec_rt),
            ("(b) baseline: local subprocess.run(['true'])", local),
        ],
        {
            "runtime": info["runtime"],
            "accel": info["accel"],
            "ratio_create_vs_bare_runsc_p50": ratio,
            "targets": {"ratio_create_vs_bare_runsc_p50": 1.5, "exec_round_trip_p50_ms": 10},
        },
    )


if __name__ == "__main__":
    main()
