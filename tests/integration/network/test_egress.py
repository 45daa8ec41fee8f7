"""VM networking through the public API: NAT egress by `internet_access`, no way from a VM to
another VM or to the host's own services, and no namespace left behind.

"The internet" is a network namespace of the test's own (TEST-NET 198.18.<n>.0/24, joined to the
host by a veth) running an HTTP server: the machine has no route out, and the path a VM's packets
take (its namespace, the host's forwarding and NAT) is the same either way.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaser.host.network.plan import netns_name, scope
from tests.factories import User, create_session, expect, expect_error, run, terminate
from tests.integration.conftest import Server

pytestmark = pytest.mark.gvisor

NETNS_DIR = Path("/run/netns")


@dataclass(frozen=True)
class Outside:
    url: str  # the "internet" server
    host_addr: str  # the host's own address on that link


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def outside() -> Iterator[Outside]:
    n = os.getpid() % 250 + 1
    ns, veth = f"ctest-out-{os.getpid()}", f"ctout{os.getpid() % 100000}"
    inside, host = f"198.18.{n}.2", f"198.18.{n}.1"
    server: subprocess.Popen[bytes] | None = None
    try:
        _ip("netns", "add", ns)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip("addr", "add", f"{host}/24", "dev", veth)
        _ip("link", "set", veth, "up")
        _ip("-n", ns, "addr", "add", f"{inside}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns, "python3", "-m", "http.server", "8080", "--bind", inside],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://{inside}:8080/"
        deadline = time.monotonic() + 10
        while subprocess.run(["curl", "-s", "-m", "1", "-o", "/dev/null", url]).returncode != 0:
            assert time.monotonic() < deadline, "the outside server did not come up"
            time.sleep(0.1)
        yield Outside(url, host)
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True, check=False)
        subprocess.run(["ip", "link", "delete", veth], capture_output=True, check=False)


@pytest.fixture(scope="module")
def host_service() -> Iterator[int]:
    """An HTTP server of the host's own, on every address: what a VM must never reach."""
    httpd = http.server.ThreadingHTTPServer(("0.0.0.0", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()


def http_code(user: User, session_id: str, url: str) -> str:
    """What curl in the VM got: an HTTP status, or 000 when nothing answered."""
    out = run(user.api, session_id, f"curl -s -m 3 -o /dev/null -w %{{http_code}} {url}")["output"]
    return str(out).strip()


def vm_address(user: User, session_id: str) -> str:
    out = run(user.api, session_id, "ip -4 -o addr show dev eth0")["output"]
    return str(out).split()[3].split("/")[0]


def test_internet_access_defaults_to_on_and_reaches_out(sandbox_user: User, outside: Outside) -> None:
    session = create_session(sandbox_user.api, ephemeral=True)
    assert session["internet_access"] is True
    assert http_code(sandbox_user, session["id"], outside.url) == "200"
    assert expect(sandbox_user.api.get(f"/v1/sessions/{session['id']}"), 200)["internet_access"] is True
    terminate(sandbox_user.api, session["id"])


def test_internet_access_false_reaches_nothing(sandbox_user: User, outside: Outside) -> None:
    session = create_session(sandbox_user.api, ephemeral=True, internet_access=False)
    assert session["internet_access"] is False
    assert http_code(sandbox_user, session["id"], outside.url) == "000"
    # The VM itself still works, and has its interface: only the way out is shut.
    assert run(sandbox_user.api, session["id"], "echo up")["output"] == "up\n"
    assert vm_address(sandbox_user, session["id"]).startswith("10.231.")
    terminate(sandbox_user.api, session["id"])


def test_internet_access_must_be_a_boolean(sandbox_user: User) -> None:
    resp = sandbox_user.api.post("/v1/sessions", json={"ephemeral": True, "internet_access": "yes"})
    assert "internet_access" in expect_error(resp, 400, "invalid_field")


def test_vms_cannot_reach_each_other(sandbox_user: User, outside: Outside) -> None:
    a = create_session(sandbox_user.api, ephemeral=True)
    b = create_session(sandbox_user.api, ephemeral=True)
    started = run(sandbox_user.api, a["id"], "nohup python3 -m http.server 9000 >/dev/null 2>&1 &")
    assert started["exit_code"] == 0
    deadline = time.monotonic() + 15
    while http_code(sandbox_user, a["id"], "http://127.0.0.1:9000/") != "200":
        assert time.monotonic() < deadline, "the server in VM a did not come up"
        time.sleep(0.2)
    a_addr = vm_address(sandbox_user, a["id"])
    assert a_addr != vm_address(sandbox_user, b["id"])
    assert http_code(sandbox_user, b["id"], f"http://{a_addr}:9000/") == "000"
    # Both have egress: it is VM-to-VM traffic that is refused, not all traffic.
    assert http_code(sandbox_user, b["id"], outside.url) == "200"
    for s in (a, b):
        terminate(sandbox_user.api, s["id"])


def test_vms_cannot_reach_the_hosts_own_services(
    sandbox_user: User, outside: Outside, host_service: int
) -> None:
    session = create_session(sandbox_user.api, ephemeral=True)
    gateway = str(run(sandbox_user.api, session["id"], "ip route show default")["output"]).split()[2]
    for addr in (gateway, outside.host_addr):
        assert http_code(sandbox_user, session["id"], f"http://{addr}:{host_service}/") == "000", addr
    assert http_code(sandbox_user, session["id"], "http://169.254.169.254/") == "000"
    # The same service answers from the host itself: the refusal is the VM's.
    code = subprocess.run(
        [
            "curl",
            "-s",
            "-m",
            "3",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            f"http://{outside.host_addr}:{host_service}/",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert code == "200"
    terminate(sandbox_user.api, session["id"])


def networks_of(server: Server) -> set[str]:
    prefix = netns_name(scope(server.data_dir / "host"), "")
    return {p.name.removeprefix(prefix) for p in NETNS_DIR.iterdir() if p.name.startswith(prefix)}


def sandboxes_of(server: Server) -> set[str]:
    out = subprocess.run(
        ["runsc", f"--root={server.data_dir / 'host' / 'runsc-root'}", "list", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return set(out.split())


def test_every_namespace_belongs_to_a_live_sandbox(sandbox_user: User, sqlite_server: Server) -> None:
    session = create_session(sandbox_user.api, ephemeral=True)
    terminate(sandbox_user.api, session["id"])
    deadline = time.monotonic() + 20
    while True:
        networks, sandboxes = networks_of(sqlite_server), sandboxes_of(sqlite_server)
        with contextlib.suppress(AssertionError):
            assert networks == sandboxes and networks, (networks, sandboxes)
            break
        if time.monotonic() > deadline:
            assert networks == sandboxes, "a namespace outlived its sandbox (or a sandbox has none)"
        time.sleep(0.2)
