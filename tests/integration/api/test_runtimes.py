"""The foundation on both runtimes, through the public HTTP API: every test runs once on gVisor and
once on qemu (`runtime_server`; TCG where KVM is unusable, so few and focused). A session says which
runtime and acceleration serve it; create is a warm-pool hand-out; exec, files, the PTY, a
workspace across two sessions and the vcpus/memory limits behave the same on both; a terminated
session leaves no sandbox behind on the host.

The rest of the suite goes deeper on gVisor alone (test_exec.py, test_files.py, ...); the qemu
runtime's own failure paths are in tests/integration/host/test_qemu.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import (
    Api,
    create_session,
    create_workspace,
    download,
    expect,
    make_user,
    run,
    terminate,
    upload,
)
from tests.integration.conftest import OnRuntime, Server, live_sandboxes
from tests.integration.interactive.helpers import open_terminal, wait_leases

pytestmark = pytest.mark.slow
ACCELS = {"gvisor": {"ptrace"}, "qemu": {"kvm", "tcg"}}


# -- the host's view of a session's sandbox ------------------------------------------------------


def vm_record(server: Server, session_id: str) -> dict[str, Any] | None:
    """The host daemon's record of a session's VM (`vms/<session id>/state.json`), None once gone."""
    path = server.data_dir / "host" / "vms" / session_id / "state.json"
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return record


def eventually(check: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        time.sleep(0.2)
    return result


def ready_spares(server: Server) -> list[str]:
    """Warm-pool VMs booted and waiting for a session."""
    spares = []
    for path in (server.data_dir / "host" / "vms").glob("pool-*/state.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written or handed out right now
        if record.get("pooled") and record.get("phase") == "running":
            spares.append(path.parent.name)
    return spares


# -- lifecycle -----------------------------------------------------------------------------------


def test_create_is_a_hand_out_reports_runtime_and_terminate_leaves_nothing(on_runtime: OnRuntime) -> None:
    server, api = on_runtime.server, on_runtime.user.api
    host = server.host_info()
    assert host["runtime"] == on_runtime.runtime and host["accel"] in ACCELS[on_runtime.runtime], host
    eventually(lambda: ready_spares(server), "a warm-pool spare", timeout_s=120)

    started = time.monotonic()
    resp = api.post("/v1/sessions", json={"ephemeral": True, "env": {"GREETING": "hi"}})
    create_s = time.monotonic() - started
    session = expect(resp, 201)
    print(f"\n{on_runtime.runtime}/{host['accel']}: create {create_s:.2f}s")
    assert session["status"] == "running" and session["session_type"] == "sandbox"
    assert session["ephemeral"] is True and session["persistence"] == "ephemeral"
    assert (session["vcpus"], session["memory_mib"]) == (1, 512)
    got = expect(api.get(f"/v1/sessions/{session['id']}"), 200)
    assert (got["status"], got["runtime"], got["accel"]) == ("running", on_runtime.runtime, host["accel"])

    record = vm_record(server, session["id"])
    assert record is not None and record["sandbox_id"].startswith("pool-"), record  # a hand-out
    sandbox = record["sandbox_id"]
    assert sandbox in live_sandboxes(server, on_runtime.runtime)
    assert run(api, session["id"], 'echo "$GREETING"')["output"] == "hi\n"

    done = terminate(api, session["id"])
    assert done["status"] == "terminated" and done["termination_reason"] == "user_request"
    assert sandbox not in live_sandboxes(server, on_runtime.runtime)
    assert vm_record(server, session["id"]) is None
    if on_runtime.runtime == "qemu":
        assert not (server.data_dir / "host" / "qemu" / sandbox).exists()


# -- exec, files and the PTY in one shared session per runtime ----------------------------------


@dataclass(frozen=True)
class Shell:
    runtime: str
    server: Server
    api: Api
    sid: str

    def run(self, command: str, **body: Any) -> dict[str, Any]:
        return run(self.api, self.sid, command, **body)

    def log_tail(self, lines: int = 40) -> str:
        return self.server.log_tail(lines)


@pytest.fixture(scope="module")
def shell(runtime_server: tuple[str, Server]) -> Iterator[Shell]:
    name, server = runtime_server
    api = make_user(server).api
    session = create_session(api, ephemeral=True, env={"SESSION_VAR": "from-create"})
    yield Shell(name, server, api, session["id"])
    api.delete(f"/v1/sessions/{session['id']}?force=true")


def test_exec_output_exit_code_env_cwd(shell: Shell) -> None:
    result = shell.run("echo out; echo err >&2; exit 3")
    assert (result["status"], result["exit_code"]) == ("completed", 3)
    assert "out\n" in result["output"] and "err\n" in result["output"]
    assert result["output_truncated"] is False
    env = shell.run('printf "%s %s" "$FOO" "$SESSION_VAR"', env={"FOO": "bar baz"})
    assert (env["exit_code"], env["output"]) == (0, "bar baz from-create")
    assert shell.run("pwd", cwd="/tmp")["output"] == "/tmp\n"


def test_exec_stdin(shell: Shell) -> None:
    assert shell.run("tr a-z A-Z", stdin="hello\nworld\n")["output"] == "HELLO\nWORLD\n"


def test_exec_timeout_kills_the_command(shell: Shell) -> None:
    started = time.monotonic()
    result = shell.run("sleep 30", timeout_ms=500)
    assert result["status"] == "timed_out" and result["exit_code"] is None
    assert time.monotonic() - started < 15
    assert shell.run("echo still-alive")["output"] == "still-alive\n"


def test_upload_download_round_trip(shell: Shell) -> None:
    content = bytes(range(256)) * 1024 + os.urandom(4099)
    assert expect(upload(shell.api, shell.sid, "/tmp/blob.bin", content), 200) == {
        "path": "/tmp/blob.bin",
        "size": len(content),
    }
    assert shell.run("sha256sum /tmp/blob.bin")["output"].split()[0] == hashlib.sha256(content).hexdigest()
    resp = download(shell.api, shell.sid, "/tmp/blob.bin")
    assert resp.status_code == 200 and resp.content == content


def test_pty_echo_and_exit_code(shell: Shell) -> None:
    term = open_terminal(shell.server.url.replace("http://", "ws://", 1), shell.api, shell.sid)
    try:
        term.send("echo hi-$((6*7))\r")
        term.wait_text("hi-42")
        term.send("exit 3\r")
        term.wait_for(lambda: any(c.get("type") == "exit" for c in term.control), what="exit message")
        assert next(c for c in term.control if c["type"] == "exit")["code"] == 3
    finally:
        term.ws.close()
    wait_leases(shell.api, shell.sid, 0)


# -- workspaces and limits ------------------------------------------------------------------------


def test_workspace_outlives_its_session(on_runtime: OnRuntime) -> None:
    """No `sync`: terminating the session must flush what the guest wrote."""
    api = on_runtime.user.api
    ws = create_workspace(api)
    first = create_session(api, workspace=ws["name"])
    assert run(api, first["id"], "echo kept > /workspace/note && mkdir -p /workspace/d")["exit_code"] == 0
    payload = os.urandom(100_000)
    expect(upload(api, first["id"], "/workspace/d/blob.bin", payload), 200)
    terminate(api, first["id"])

    second = create_session(api, workspace=ws["id"])
    assert second["id"] != first["id"] and second["runtime"] == on_runtime.runtime
    assert run(api, second["id"], "cat /workspace/note")["output"] == "kept\n"
    resp = download(api, second["id"], "/workspace/d/blob.bin")
    assert resp.status_code == 200 and resp.content == payload
    terminate(api, second["id"])


def test_vcpus_and_memory_are_what_the_guest_sees(on_runtime: OnRuntime) -> None:
    """gVisor: a CPU quota (nproc, capped by the host's cores) and /proc/meminfo at the limit;
    qemu: the guest's vCPUs and RAM (less what its kernel keeps)."""
    api = on_runtime.user.api
    session = create_session(api, ephemeral=True, vcpus=2, memory_mib=256)
    assert (session["vcpus"], session["memory_mib"]) == (2, 256)
    nproc, meminfo = run(api, session["id"], "nproc; head -1 /proc/meminfo")["output"].splitlines()
    expected_cpus = 2 if on_runtime.runtime == "qemu" else min(2, os.cpu_count() or 1)
    assert int(nproc) == expected_cpus
    mem_kib = int(meminfo.split()[1])
    assert 0.75 * 256 * 1024 <= mem_kib <= 256 * 1024, meminfo
    terminate(api, session["id"])
