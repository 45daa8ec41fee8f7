from __future__ import annotations

from pathlib import Path

from chaser.agent.protocol import ENV_SOCKET, ENV_TOKEN
from chaser.host.runtimes.base import BootRequest
from chaser.host.runtimes.gvisor.spec import AGENT_MOUNT, SOCKET_MOUNT, WORKSPACE_MOUNT, build_spec


def boot(workspace: Path | None) -> BootRequest:
    return BootRequest(
        vm_id="vm1",
        rootfs=Path("/images/base/rootfs"),
        bundle_dir=Path("/state/vms/vm1/bundle"),
        agent_dir=Path("/repo/chaser/agent"),
        socket_dir=Path("/state/vms/vm1/sock"),
        workspace_dir=workspace,
        agent_token="secret",
        console_log=Path("/state/vms/vm1/console.log"),
        env={"FOO": "bar", ENV_TOKEN: "spoofed"},
        vcpus=2,
        memory_mib=256,
    )


def mounts(spec: dict) -> dict[str, dict]:
    return {m["destination"]: m for m in spec["mounts"]}


def test_agent_runs_under_tini_with_its_own_token() -> None:
    spec = build_spec(boot(None))
    assert spec["process"]["args"][0] == "/usr/bin/tini"
    assert spec["process"]["args"][-2:] == ["-m", "chaser_agent"]
    env = dict(e.split("=", 1) for e in spec["process"]["env"])
    assert env["FOO"] == "bar"
    assert env[ENV_TOKEN] == "secret", "the spec's env cannot override the agent token"
    assert env[ENV_SOCKET] == f"{SOCKET_MOUNT}/agent.sock"
    assert "PYTHONPATH" not in env


def test_mounts_agent_readonly_socket_and_optional_workspace() -> None:
    ephemeral = mounts(build_spec(boot(None)))
    assert ephemeral[AGENT_MOUNT]["source"] == "/repo/chaser/agent"
    assert "ro" in ephemeral[AGENT_MOUNT]["options"]
    assert "rw" in ephemeral[SOCKET_MOUNT]["options"]
    assert WORKSPACE_MOUNT not in ephemeral
    with_disk = mounts(build_spec(boot(Path("/state/mnt/d1"))))
    assert with_disk[WORKSPACE_MOUNT]["source"] == "/state/mnt/d1"


def test_root_is_the_cached_image_and_limits_are_recorded() -> None:
    spec = build_spec(boot(None), cgroups_path="/chaser/abc/vm1")
    assert spec["root"] == {"path": "/images/base/rootfs", "readonly": False}
    assert spec["linux"]["resources"]["memory"]["limit"] == 256 << 20
    assert spec["linux"]["resources"]["cpu"]["quota"] == 200000
    assert spec["linux"]["cgroupsPath"] == "/chaser/abc/vm1"
    assert "cgroupsPath" not in build_spec(boot(None))["linux"]
