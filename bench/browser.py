"""Browser session latency and memory, beside launching the same Chromium on the host in the same run.

(a) create an ephemeral browser session -> Playwright `connect_over_cdp` through the gateway ->
    first navigation done (a warm-pool hand-out: each run waits for the spare to be refilled).
(b) baseline: Playwright `chromium.launch(executable_path=/usr/bin/chromium)` on the host, same
    flags, -> new page -> the same navigation.
(c) host memory of one idle browser session: PSS of its sandbox's processes (gVisor sentry, its
    ptrace stubs, gofer), Chromium with one blank page inside.

Usage: .venv/bin/python bench/browser.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from _harness import Server, percentiles, report, running_server
from playwright.sync_api import sync_playwright

PAGE = "data:text/html,<title>bench</title><h1>hello</h1>"
HOST_CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_spares(server: Server) -> list[dict[str, Any]]:
    spares = []
    for state in (server.data_dir / "host" / "vms").glob("pool-*/state.json"):
        try:
            record = json.loads(state.read_text())
        except (OSError, ValueError):
            continue
        if record["spec"]["session_type"] == "browser" and record["phase"] == "running":
            spares.append(record)
    return spares


def wait_for_spare(server: Server, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not browser_spares(server):
        if time.monotonic() > deadline:
            raise TimeoutError("no browser spare in the warm pool")
        time.sleep(0.2)


def sandbox_pss_kib(sandbox_id: str) -> int:
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if sandbox_id not in cmdline or "runsc" not in cmdline:
                continue
            for line in (proc / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def chaser_runs(server: Server, pw: Any, runs: int) -> tuple[list[float], int]:
    auth = {"Authorization": f"Bearer {server.key}"}
    samples: list[float] = []
    memory_kib = 0
    with server.client() as api:
        # The first browser session arms the pool's browser spares.
        first = api.post(
            "/v1/sessions", json={"session_type": "browser", "ephemeral": True}
        ).raise_for_status()
        api.delete(f"/v1/sessions/{first.json()['id']}", params={"force": "true"}).raise_for_status()
        for i in range(runs):
            wait_for_spare(server)
            start = time.perf_counter()
            session = api.post("/v1/sessions", json={"session_type": "browser", "ephemeral": True})
            session.raise_for_status()
            browser = pw.chromium.connect_over_cdp(session.json()["endpoints"]["control"], headers=auth)
            context = browser.contexts[0]
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(PAGE)
            assert page.title() == "bench"
            samples.append((time.perf_counter() - start) * 1000)
            browser.close()
            if i == 0:
                time.sleep(3)  # idle
                state = server.data_dir / "host" / "vms" / session.json()["id"] / "state.json"
                record = json.loads(state.read_text())
                memory_kib = sandbox_pss_kib(record.get("sandbox_id") or record["spec"]["vm_id"])
            api.delete(f"/v1/sessions/{session.json()['id']}", params={"force": "true"}).raise_for_status()
    return samples, memory_kib


def host_runs(pw: Any, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        browser = pw.chromium.launch(executable_path=HOST_CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page()
        page.goto(PAGE)
        assert page.title() == "bench"
        samples.append((time.perf_counter() - start) * 1000)
        browser.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with running_server() as server, sync_playwright() as pw:
        info = httpx_info(server)
        chaser_ms, memory_kib = chaser_runs(server, pw, args.runs)
        host_ms = host_runs(pw, args.runs)
    chaser, host = percentiles(chaser_ms), percentiles(host_ms)
    report(
        "browser",
        [
            ("(a) create browser -> CDP connected -> first navigation", chaser),
            ("(b) baseline: Playwright launch of host chromium -> nav", host),
        ],
        {
            "runtime": info.get("runtime"),
            "accel": info.get("accel"),
            "chromium": subprocess.run(
                [HOST_CHROMIUM, "--version"], capture_output=True, text=True
            ).stdout.strip(),
            "ratio_create_vs_host_launch_p50": round(chaser["p50"] / host["p50"], 2),
            "host_memory_per_idle_browser_session_mib": round(memory_kib / 1024, 1),
        },
    )


def httpx_info(server: Server) -> dict[str, Any]:
    with server.client() as api:
        host: dict[str, Any] = api.get("/healthz").json().get("host") or {}
        return host


if __name__ == "__main__":
    main()
