"""POST /vms/{id}/self-test on a real gVisor sandbox."""

from __future__ import annotations

import time

import pytest

from chaser.agent import AGENT_VERSION
from chaser.host.client import HostError
from chaser.host.wire import VmSpec

from .conftest import Daemon

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]


async def test_self_test_reports_tools_markers_and_ok(daemon: Daemon) -> None:
    client = daemon.client()
    await client.create_vm(VmSpec(vm_id="st", env={"CHASER_SESSION": "1", "OTHER": "x"}))
    started = time.perf_counter()
    result = await client.self_test("st")
    print(f"\nself-test: {(time.perf_counter() - started) * 1000:.0f} ms")
    assert result.ok, result
    assert (result.cwd, result.shell, result.user) == ("/workspace", "/bin/bash", "root")
    assert "/usr/bin" in result.path.split(":")
    assert result.tools["python3"] and result.tools["python3"].startswith("3.")
    assert result.tools["git"] and result.tools["bash"]
    assert "node" in result.tools  # present in the report even when missing (null)
    assert result.markers == {"CHASER_SESSION": "1"}
    assert result.agent_version == AGENT_VERSION and "Debian" in result.os
    with pytest.raises(HostError) as missing:
        await client.self_test("nope")
    assert missing.value.code == "vm_not_found"
    await client.stop_vm("st")
    await client.aclose()
