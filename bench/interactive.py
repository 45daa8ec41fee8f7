"""Interactive latency and throughput, each beside a baseline measured in the same run.

- PTY keystroke → echo through the public WebSocket (control plane → host → agent → bash).
- Forwarded HTTP through the gateway (`/s/<id>/forward/<port>/`) to `python3 -m http.server` in
  the sandbox, beside the same server run directly on the host: requests/s and MB/s, and ratios.
- SSE first byte: opening a background command's event stream until its first event arrives.

Usage: .venv/bin/python bench/interactive.py [--keys 200] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import websockets
from _harness import Server, percentiles, report, running_server

BIG = 8 * 1024 * 1024


async def keystroke_echo(server: Server, session_id: str, keys: int) -> list[float]:
    url = server.url.replace("http", "ws", 1) + f"/v1/sessions/{session_id}/pty?mode=human&cols=200&rows=50"
    headers = {"Authorization": f"Bearer {server.key}"}
    samples: list[float] = []
    async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
        await ws.recv()  # {"type": "pty", ...}
        screen = b""
        while b"# " not in screen and b"$ " not in screen:  # the prompt
            message = await asyncio.wait_for(ws.recv(), 30)
            if isinstance(message, bytes):
                screen += message
        for i in range(keys):
            key = b"abcdefghij"[i % 10 : i % 10 + 1]
            start = time.perf_counter()
            await ws.send(key)
            while True:
                message = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(message, bytes) and key in message:
                    break
            samples.append((time.perf_counter() - start) * 1000)
            if i % 50 == 49:
                await ws.send(b"\x15")  # Ctrl+U: keep the line short
                await asyncio.sleep(0.05)
                with contextlib.suppress(TimeoutError):
                    while True:
                        await asyncio.wait_for(ws.recv(), 0.05)
    return samples


def http_load(base: str, requests: int, headers: dict[str, str]) -> tuple[float, float, list[float]]:
    """(requests per second for a small file, MB/s for an 8 MiB file, per-request latencies)."""
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        client.get("small.txt").raise_for_status()
        latencies = []
        start = time.perf_counter()
        for _ in range(requests):
            t = time.perf_counter()
            assert client.get("small.txt").status_code == 200
            latencies.append((time.perf_counter() - t) * 1000)
        rps = requests / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(3):
            assert len(client.get("big.bin").content) == BIG
        mbps = 3 * BIG / (time.perf_counter() - start) / 1e6
    return rps, mbps, latencies


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def host_http_server(content: bytes) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as root:
        Path(root, "small.txt").write_text("hello\n")
        Path(root, "big.bin").write_bytes(content)
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    httpx.get(f"http://127.0.0.1:{port}/small.txt")
                    break
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/"
        finally:
            proc.terminate()
            proc.wait()


def sse_first_byte(server: Server, api: httpx.Client, session_id: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        cmd = (
            api.post(
                f"/v1/sessions/{session_id}/exec",
                json={"command": "echo ready; sleep 2", "background": True},
            )
            .raise_for_status()
            .json()
        )
        start = time.perf_counter()
        with api.stream("GET", f"/v1/sessions/{session_id}/commands/{cmd['command_id']}/stream") as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    samples.append((time.perf_counter() - start) * 1000)
                    break
        api.post(f"/v1/sessions/{session_id}/commands/{cmd['command_id']}/kill", json={"signal": "KILL"})
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    content = os.urandom(BIG)

    with running_server() as server, server.client() as api:
        session = api.post("/v1/sessions", json={"ephemeral": True}).raise_for_status().json()
        sid = session["id"]
        keys_ms = asyncio.run(keystroke_echo(server, sid, args.keys))

        api.post(f"/v1/sessions/{sid}/upload", data={"path": "/srv/big.bin"}, files={"file": content})
        api.post(f"/v1/sessions/{sid}/upload", data={"path": "/srv/small.txt"}, files={"file": b"hello\n"})
        api.post(
            f"/v1/sessions/{sid}/exec",
            json={"command": "cd /srv && exec python3 -m http.server 8000", "background": True},
        ).raise_for_status()
        auth = {"Authorization": f"Bearer {server.key}"}
        forwarded = f"{server.url}/s/{sid}/forward/8000/"
        for _ in range(100):
            if httpx.get(forwarded + "small.txt", headers=auth).status_code == 200:
                break
            time.sleep(0.1)
        fwd_rps, fwd_mbps, fwd_lat = http_load(forwarded, args.requests, auth)
        with host_http_server(content) as direct:
            dir_rps, dir_mbps, dir_lat = http_load(direct, args.requests, {})

        sse_ms = sse_first_byte(server, api, sid, 20)
        api.delete(f"/v1/sessions/{sid}", params={"force": "true"})

    report(
        "interactive",
        [
            ("PTY keystroke -> echo (human mode, public WebSocket)", percentiles(keys_ms)),
            ("forwarded HTTP GET small file (gateway /s/<id>/forward/)", percentiles(fwd_lat)),
            ("baseline: same GET, http.server run directly on the host", percentiles(dir_lat)),
            ("SSE: open stream -> first event", percentiles(sse_ms)),
        ],
        {
            "forwarded_requests_per_s": round(fwd_rps, 1),
            "direct_requests_per_s": round(dir_rps, 1),
            "ratio_requests_per_s": round(fwd_rps / dir_rps, 2),
            "forwarded_MB_per_s": round(fwd_mbps, 1),
            "direct_MB_per_s": round(dir_mbps, 1),
            "ratio_MB_per_s": round(fwd_mbps / dir_mbps, 2),
            "targets": {"keystroke_echo_p50_ms": 5, "forwarded_throughput_ratio": 0.5},
        },
    )


if __name__ == "__main__":
    main()
