"""Pure: a VM's boot parameters in, the OCI runtime spec (config.json) for runsc out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaser.agent.protocol import DEFAULT_SOCKET, ENV_SOCKET, ENV_TOKEN
from chaser.host.runtimes.base import BootRequest

AGENT_MOUNT = "/opt/chaser/chaser_agent"
SOCKET_MOUNT = "/run/chaser"
WORKSPACE_MOUNT = "/workspace"

# Docker's default set: enough for the agent to switch users, chown and signal process groups.
CAPABILITIES = [
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
]

BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
    "TERM": "xterm-256color",
}


def _bind(source: str, destination: str, *, readonly: bool) -> dict[str, Any]:
    return {
        "destination": destination,
        "type": "bind",
        "source": source,
        "options": ["rbind", "ro" if readonly else "rw"],
    }


def build_spec(
    boot: BootRequest, cgroups_path: str | None = None, netns: Path | None = None
) -> dict[str, Any]:
    """`cgroups_path` set: runsc enforces memory_mib (the whole sandbox is OOM-killed past it, and
    /proc/meminfo shows it) and vcpus as a CPU quota. None: the limits are only recorded.
    `netns`: the sandbox joins this network namespace (runsc copies its interfaces and routes
    into gVisor's netstack); None: a new empty one."""
    env = {**BASE_ENV, **boot.env, ENV_SOCKET: DEFAULT_SOCKET, ENV_TOKEN: boot.agent_token}
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        },
        {
            "destination": "/tmp",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777"],
        },
        _bind(str(boot.agent_dir), AGENT_MOUNT, readonly=True),
        _bind(str(boot.socket_dir), SOCKET_MOUNT, readonly=False),
    ]
    if boot.workspace_dir is not None:
        mounts.append(_bind(str(boot.workspace_dir), WORKSPACE_MOUNT, readonly=False))
    caps = list(CAPABILITIES)
    return {
        "ociVersion": "1.0.0",
        "process": {
            "user": {"uid": 0, "gid": 0},
            # tini is PID 1 so orphans are reaped; `-m` from cwd /opt/chaser finds the agent
            # package without a PYTHONPATH that would leak into every command the agent runs.
            "args": ["/usr/bin/tini", "-s", "-g", "--", "/usr/bin/python3", "-B", "-m", "chaser_agent"],
            "env": [f"{k}={v}" for k, v in env.items()],
            "cwd": "/opt/chaser",
            "capabilities": {"bounding": caps, "effective": caps, "inheritable": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576}],
            "noNewPrivileges": False,
        },
        # Writable through runsc's in-memory overlay (--overlay2=root:memory): the cached image
        # on the host is never modified, and each sandbox's changes vanish with it.
        "root": {"path": str(boot.rootfs), "readonly": False},
        "hostname": boot.hostname,
        "mounts": mounts,
        "annotations": {"dev.chaser.vm_id": boot.vm_id},
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
            + [{"type": "network", **({"path": str(netns)} if netns else {})}],
            **({"cgroupsPath": cgroups_path} if cgroups_path else {}),
            "resources": {
                "memory": {"limit": boot.memory_mib * 1024 * 1024},
                "cpu": {"quota": boot.vcpus * 100000, "period": 100000},
            },
        },
    }
