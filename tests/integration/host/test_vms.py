"""Create → exec → files → stop on a real gVisor sandbox, driven through HostClient."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from chaser.host.client import HostError
from chaser.host.wire import ExecRequest, VmSpec, VmState

from .conftest import Daemon

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]


async def test_info_and_auth(daemon: Daemon) -> None:
    client = daemon.client()
    info = await client.info()
    assert (info.runtime, info.accel) == ("gvisor", "ptrace")
    assert "base" in info.images and info.vms == 0 and info.agent_version
    await client.aclose()
    r = httpx.get(f"{daemon.url}/info", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert httpx.get(f"{daemon.url}/vms").status_code == 401


async def test_create_exec_files_stop(daemon: Daemon) -> None:
    client = daemon.client()
    started = time.perf_counter()
    vm = await client.create_vm(VmSpec(vm_id="vm-a", env={"FROM_SPEC": "yes"}, labels={"session_id": "s1"}))
    print(f"\ncreate_vm: {(time.perf_counter() - started) * 1000:.0f} ms")
    assert vm.state is VmState.RUNNING and vm.runtime == "gvisor" and vm.labels == {"session_id": "s1"}

    result = await client.exec(
        "vm-a", ExecRequest(command='echo "$FROM_SPEC $X"; pwd; id -un', env={"X": "1"})
    )
    assert result.output.split() == ["yes", "1", "/workspace", "root"]
    assert result.exit_code == 0 and result.pid is not None

    as_user = await client.exec(
        "vm-a", ExecRequest(command="id -u; echo $HOME; cat", user="user", stdin="in")
    )
    assert as_user.output.split() == ["1000", "/home/user", "in"]

    timed = await client.exec("vm-a", ExecRequest(command="sleep 20", timeout_ms=300))
    assert timed.timed_out and timed.exit_code is None

    big = await client.exec(
        "vm-a", ExecRequest(command="head -c 100000 /dev/zero | tr '\\0' x", max_output_bytes=10)
    )
    assert big.output == "x" * 10 and big.output_truncated

    samples = []
    for _ in range(10):
        t = time.perf_counter()
        await client.exec("vm-a", ExecRequest(command="true"))
        samples.append((time.perf_counter() - t) * 1000)
    print(f"exec true round trip: median {sorted(samples)[5]:.1f} ms, min {min(samples):.1f} ms")

    info = await client.write_file("vm-a", "/workspace/dir/hello.txt", b"hello\x00world")
    assert info.size == 11
    assert await client.read_file("vm-a", "/workspace/dir/hello.txt", 100) == b"hello\x00world"
    with pytest.raises(HostError) as missing:
        await client.read_file("vm-a", "/nope", 100)
    assert (missing.value.status, missing.value.code) == (404, "file_not_found")
    with pytest.raises(HostError) as too_large:
        await client.read_file("vm-a", "/workspace/dir/hello.txt", 5)
    assert (too_large.value.status, too_large.value.code) == (413, "too_large")

    # The root filesystem is writable (in-memory overlay) and never touches the image cache.
    await client.exec("vm-a", ExecRequest(command="echo x > /etc/chaser-test"))
    assert not (daemon.image_cache / "base" / "rootfs" / "etc" / "chaser-test").exists()

    assert [v.vm_id for v in await client.list_vms()] == ["vm-a"]
    assert (await client.get_vm("vm-a")).state is VmState.RUNNING
    await client.stop_vm("vm-a")
    await client.stop_vm("vm-a")  # idempotent
    with pytest.raises(HostError) as gone:
        await client.get_vm("vm-a")
    assert gone.value.code == "vm_not_found"
    assert daemon.runsc_ids() == [] and daemon.vm_dirs() == []
    await client.aclose()


async def test_duplicate_vm_and_unknown_vm(daemon: Daemon) -> None:
    client = daemon.client()
    await client.create_vm(VmSpec(vm_id="dup"))
    with pytest.raises(HostError) as exists:
        await client.create_vm(VmSpec(vm_id="dup"))
    assert exists.value.code == "vm_exists"
    with pytest.raises(HostError) as unknown:
        await client.exec("nope", ExecRequest(command="true"))
    assert unknown.value.code == "vm_not_found"
    with pytest.raises(HostError) as bad:
        await client.create_vm(VmSpec(vm_id="../escape"))
    assert bad.value.code == "invalid_request"
    await client.stop_vm("dup")
    await client.aclose()


async def test_exited_sandbox_is_reported_stopped(daemon: Daemon) -> None:
    client = daemon.client()
    await client.create_vm(VmSpec(vm_id="dies"))
    # Killing PID 1 (tini) ends the sandbox, and with it the agent mid-op.
    with pytest.raises(HostError) as dropped:
        await client.exec("dies", ExecRequest(command="kill -KILL 1", timeout_ms=2000))
    assert dropped.value.code == "agent_unavailable"
    deadline = time.monotonic() + 10
    while (vm := await client.get_vm("dies")).state is not VmState.STOPPED and time.monotonic() < deadline:
        time.sleep(0.1)
    assert vm.state is VmState.STOPPED and vm.exit_reason
    with pytest.raises(HostError) as stopped:
        await client.exec("dies", ExecRequest(command="true"))
    assert stopped.value.code == "vm_not_running"
    await client.stop_vm("dies")
    assert daemon.runsc_ids() == [] and daemon.vm_dirs() == []
    await client.aclose()


async def test_memory_limit_is_enforced(daemon: Daemon) -> None:
    client = daemon.client()
    await client.create_vm(VmSpec(vm_id="small", memory_mib=256))
    meminfo = await client.exec("small", ExecRequest(command="head -1 /proc/meminfo"))
    assert meminfo.output.split()[1] == str(256 * 1024)
    # gVisor has no in-sandbox OOM killer: past the limit the whole sandbox is killed.
    with pytest.raises(HostError):
        await client.exec("small", ExecRequest(command="python3 -c 'x = bytearray(400 << 20)'"))
    deadline = time.monotonic() + 10
    while (vm := await client.get_vm("small")).state is not VmState.STOPPED and time.monotonic() < deadline:
        time.sleep(0.1)
    assert vm.state is VmState.STOPPED
    await client.stop_vm("small")
    await client.aclose()


async def test_short_of_memory_create_is_refused_with_429(image_cache: Path) -> None:
    daemon = Daemon(image_cache, env={"CHASER_HOST_MEMORY_RESERVE_MIB": str(1 << 30)})
    try:
        daemon.start()
        client = daemon.client()
        with pytest.raises(HostError) as refused:
            await client.create_vm(VmSpec(vm_id="m1"))
        assert (refused.value.status, refused.value.code) == (429, "concurrency_limit"), refused.value
        assert "CHASER_HOST_MEMORY_RESERVE_MIB" in refused.value.message
        assert daemon.vm_dirs() == [] and daemon.runsc_ids() == [] and daemon.mounts() == []
        await client.aclose()
    finally:
        daemon.destroy()
