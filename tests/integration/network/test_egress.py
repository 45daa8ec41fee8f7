"""VM networking through the public API, on both runtimes: NAT egress by `internet_access`, no
way from a VM to another VM or to the host's own services, and no namespace left behind.

"The internet" is a network namespace of the test's own (TEST-NET 198.18.<n>.0/24, joined to the
host by a veth) running an HTTP server: the machine has no route out, and the path a VM's packets
take (its namespace, the host's forwarding and NAT) is the same either way.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaser.host.network.plan import netns_name, scope
from tests.factories import User, create_session, expect, expect_error, run, terminate, upload
from tests.integration.conftest import OnRuntime, Server, live_sandboxes

pytestmark = pytest.mark.slow
# The address a VM's own eth0 has: gVisor uses its namespace's interface; QEMU guests all sit at
# 10.0.2.15 behind their namespace's NAT (one template serves every VM).
VM_ADDRESS_PREFIX = {"gvisor": "10.231.", "qemu": "10.0.2.15"}

NETNS_DIR = Path("/run/netns")


@dataclass(frozen=True)
class Outside:
    url: str  # the "internet" server
    host_addr: str  # the host's own address on that link
    udp_addr: str  # a UDP sink there, appending each datagram's payload to `udp_log`
    udp_port: int
    udp_log: Path


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


UDP_SINK = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, _ = s.recvfrom(65536)
    with open(sys.argv[3], "ab") as log:
        log.write(data + b"\\n")
"""


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outside]:
    n = os.getpid() % 250 + 1
    ns, veth = f"ctest-out-{os.getpid()}", f"ctout{os.getpid() % 100000}"
    inside, host = f"198.18.{n}.2", f"198.18.{n}.1"
    server: subprocess.Popen[bytes] | None = None
    sink: subprocess.Popen[bytes] | None = None
    udp_log = tmp_path_factory.mktemp("outside") / "udp.log"
    udp_log.write_bytes(b"")
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
        sink = subprocess.Popen(
            ["ip", "netns", "exec", ns, "python3", "-c", UDP_SINK, inside, "9999", str(udp_log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://{inside}:8080/"
        deadline = time.monotonic() + 10
        while subprocess.run(["curl", "-s", "-m", "1", "-o", "/dev/null", url]).returncode != 0:
            assert time.monotonic() < deadline, "the outside server did not come up"
            time.sleep(0.1)
        yield Outside(url, host, inside, 9999, udp_log)
    finally:
        for proc in (server, sink):
            if proc is not None:
                proc.kill()
                proc.wait()
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


def test_internet_access_defaults_to_on_and_reaches_out(on_runtime: OnRuntime, outside: Outside) -> None:
    user = on_runtime.user
    session = create_session(user.api, ephemeral=True)
    assert session["internet_access"] is True
    assert http_code(user, session["id"], outside.url) == "200"
    assert expect(user.api.get(f"/v1/sessions/{session['id']}"), 200)["internet_access"] is True
    terminate(user.api, session["id"])


def test_internet_access_false_reaches_nothing(on_runtime: OnRuntime, outside: Outside) -> None:
    user = on_runtime.user
    session = create_session(user.api, ephemeral=True, internet_access=False)
    assert session["internet_access"] is False
    assert http_code(user, session["id"], outside.url) == "000"
    # The VM itself still works, and has its interface: only the way out is shut.
    assert run(user.api, session["id"], "echo up")["output"] == "up\n"
    assert vm_address(user, session["id"]).startswith(VM_ADDRESS_PREFIX[on_runtime.runtime])
    terminate(user.api, session["id"])


def test_internet_access_must_be_a_boolean(sandbox_user: User) -> None:
    resp = sandbox_user.api.post("/v1/sessions", json={"ephemeral": True, "internet_access": "yes"})
    assert "internet_access" in expect_error(resp, 400, "invalid_field")


def test_vms_cannot_reach_each_other(sandbox_user: User, outside: Outside) -> None:
    """gVisor VMs have distinct addresses on the host's VM network; QEMU guests cannot even be
    addressed from outside their namespace (they all sit behind their own NAT)."""
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
    on_runtime: OnRuntime, outside: Outside, host_service: int
) -> None:
    user = on_runtime.user
    session = create_session(user.api, ephemeral=True)
    # The host's end of the VM's link (gVisor: its gateway; QEMU: its namespace's gateway), and
    # the host's address on another link.
    host_end = str(run(user.api, session["id"], "ip route show default")["output"]).split()[2]
    if on_runtime.runtime == "qemu":
        host_end = (
            subprocess.run(
                ["ip", "-4", "-o", "addr", "show", "to", "10.231.0.0/16"], capture_output=True, text=True
            )
            .stdout.split()[3]
            .split("/")[0]
        )
    for addr in (host_end, outside.host_addr):
        assert http_code(user, session["id"], f"http://{addr}:{host_service}/") == "000", addr
    assert http_code(user, session["id"], "http://169.254.169.254/") == "000"
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
    terminate(user.api, session["id"])


def networks_of(server: Server) -> set[str]:
    prefix = netns_name(scope(server.data_dir / "host"), "")
    return {p.name.removeprefix(prefix) for p in NETNS_DIR.iterdir() if p.name.startswith(prefix)}


def test_every_namespace_belongs_to_a_live_sandbox(on_runtime: OnRuntime) -> None:
    session = create_session(on_runtime.user.api, ephemeral=True)
    terminate(on_runtime.user.api, session["id"])
    deadline = time.monotonic() + 20
    while True:
        networks = networks_of(on_runtime.server)
        sandboxes = live_sandboxes(on_runtime.server, on_runtime.runtime)
        with contextlib.suppress(AssertionError):
            assert networks == sandboxes and networks, (networks, sandboxes)
            break
        if time.monotonic() > deadline:
            assert networks == sandboxes, "a namespace outlived its sandbox (or a sandbox has none)"
        time.sleep(0.2)


SPOOF = """
import socket, struct, sys
src, dst, port, payload = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].encode()
udp = struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 socket.inet_aton(src), socket.inet_aton(dst))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
s.sendto(ip + udp, (dst, 0))
print("sent")
"""


def host_side_address(on_runtime: OnRuntime, session_id: str) -> str:
    """The address a session's traffic carries when it reaches the host: gVisor's netstack owns
    its namespace's address (runsc moves it off the interface); a QEMU guest is NATed to it."""
    if on_runtime.runtime == "gvisor":
        return vm_address(on_runtime.user, session_id)
    host = on_runtime.server.data_dir / "host"
    record = json.loads((host / "vms" / session_id / "state.json").read_text())
    netns = netns_name(scope(host), record.get("sandbox_id") or session_id)
    out = subprocess.run(
        ["ip", "-n", netns, "-4", "-o", "addr", "show", "dev", "eth0"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()[3].split("/")[0]


def test_posing_as_another_vm_gains_no_egress(on_runtime: OnRuntime, outside: Outside) -> None:
    """A guest is root in its VM. gVisor refuses it raw sockets; a QEMU guest may send packets with
    any source address, but egress is granted to the pair (its own host interface, its own address)
    and its namespace rewrites its source anyway, so posing as a VM that has egress gets nothing
    through. The outside logs UDP datagrams by payload."""
    user = on_runtime.user
    shut = create_session(user.api, ephemeral=True, internet_access=False)
    open_ = create_session(user.api, ephemeral=True)
    stolen = host_side_address(on_runtime, open_["id"])
    for s in (shut, open_):
        expect(upload(user.api, s["id"], "/tmp/spoof.py", SPOOF.encode()), 200)
    target = f"{outside.udp_addr} {outside.udp_port}"
    sent = run(user.api, shut["id"], f"python3 /tmp/spoof.py {stolen} {target} spoofed")
    if on_runtime.runtime == "gvisor":
        assert "Operation not permitted" in sent["output"], sent
    else:
        assert sent["output"].strip() == "sent", sent
        # The control: the VM with egress, with the same raw socket and its own guest address.
        sent = run(user.api, open_["id"], f"python3 /tmp/spoof.py 10.0.2.15 {target} genuine")
        assert sent["output"].strip() == "sent", sent
        deadline = time.monotonic() + 5
        while b"genuine" not in outside.udp_log.read_bytes():
            assert time.monotonic() < deadline, "the genuine datagram never arrived"
            time.sleep(0.1)
        assert b"spoofed" not in outside.udp_log.read_bytes()
    for s in (shut, open_):
        terminate(user.api, s["id"])
