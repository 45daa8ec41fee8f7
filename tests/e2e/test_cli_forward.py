"""`chaser forward ID PORT LOCAL --wait`: a web server inside the sandbox, reached on 127.0.0.1."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx

from tests.e2e.conftest import Cli
from tests.integration.conftest import CHASER
from tests.integration.postgres import free_port

GUEST_PORT = 8765


def test_forward_relays_http_and_waits_for_the_port(cli: Cli, sandbox: str) -> None:
    local = free_port()
    forward = subprocess.Popen(
        [str(CHASER), "forward", sandbox, str(GUEST_PORT), str(local), "--wait"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1)  # --wait is polling now: nothing listens yet
        assert forward.poll() is None, forward.communicate()
        cli.ok(
            "exec",
            sandbox,
            "--",
            "mkdir -p /srv && echo forwarded-ok > /srv/index.txt && cd /srv && "
            f"(nohup python3 -m http.server {GUEST_PORT} --bind 127.0.0.1 >/dev/null 2>&1 &)",
        )
        body = _get_eventually(f"http://127.0.0.1:{local}/index.txt")
        assert body == "forwarded-ok\n"
        # Several connections at once, each over its own tunnel.
        with httpx.Client(timeout=30) as http:
            for _ in range(3):
                assert http.get(f"http://127.0.0.1:{local}/index.txt").text == "forwarded-ok\n"
    finally:
        forward.send_signal(signal.SIGINT)
        try:
            _, err = forward.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            forward.kill()
            _, err = forward.communicate()
    assert "Traceback" not in err, err


def test_forward_to_an_unknown_session_fails_cleanly(cli: Cli) -> None:
    proc = cli("forward", "00000000-0000-0000-0000-000000000000", "80", str(free_port()))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def _get_eventually(url: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(url, timeout=10)
            if resp.status_code == 200:
                return resp.text
            last = resp.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{url} never answered 200 (last: {last!r})")
