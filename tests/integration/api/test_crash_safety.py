"""kill -9 of the host daemon or of the server mid-session: after a restart no sandbox, mount or
lease is orphaned and no workspace file is lost. Each test owns its server and data directory."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import Api, create_session, create_workspace, expect, make_user, run
from tests.integration.conftest import Server, mounts_under

pytestmark = [pytest.mark.gvisor, pytest.mark.slow]
CONTENT = "written before the crash\n"
POOL_SIZE = 2  # the host daemon's default warm_pool_size: booted spares that belong to no session


def containers(server: Server) -> set[str]:
    """Container ids runsc knows in the host daemon's runsc root (they are session ids)."""
    root = server.data_dir / "host" / "runsc-root"
    if not root.exists():
        return set()
    out = subprocess.run(
        ["runsc", "--root", str(root), "list", "-quiet"], capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def sessions_by_status(api: Api) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for s in expect(api.get("/v1/sessions", params={"limit": 200}), 200)["data"]:
        found.setdefault(s["status"], set()).add(s["id"])
    return found


def eventually(check: Callable[[], Any], timeout_s: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.5)


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def read_back(api: Api, session_id: str, workspace_id: str) -> str:
    """The file via the adopted session if it still execs; otherwise that session must show
    `terminated` with a reason, and a new session on the workspace reads the file."""

    def settled() -> str | None:
        resp = api.post(f"/v1/sessions/{session_id}/exec", json={"command": "cat /workspace/crash.txt"})
        if resp.status_code == 200:
            return "adopted"
        session = expect(api.get(f"/v1/sessions/{session_id}"), 200)
        return "terminated" if session["status"] == "terminated" else None

    if eventually(settled, what="the session to be adopted or terminated") == "adopted":
        return run(api, session_id, "cat /workspace/crash.txt")["output"]
    ended = expect(api.get(f"/v1/sessions/{session_id}"), 200)
    assert ended["termination_reason"] in {"host_lost", "vm_exited", "create_interrupted"}, ended
    resp = api.post("/v1/sessions", json={"workspace": workspace_id})
    assert resp.status_code in (200, 201), resp.text  # 200: an earlier read-back session was adopted
    return run(api, resp.json()["id"], "cat /workspace/crash.txt")["output"]


def workspace_mounts(server: Server) -> list[str]:
    """Mounts under the data dir except the storage pool's own (the host keeps its reflink pool
    mounted while it runs; workspace disks are the mounts that must follow sessions)."""
    pool = str((server.data_dir / "host" / "pool").resolve())
    return [m for m in mounts_under(server.data_dir) if m != pool]


def assert_no_orphans(server: Server, api: Api) -> None:
    """runsc runs only live sessions (plus at most the warm pool's spares), only workspaces with a
    live session are mounted; after terminating everything only spares remain and nothing is mounted.

    A session handed a warm-pool spare keeps the spare's `pool-*` container id, and mounts are named
    after internal disk ids, so those are bounded by count; the rest is matched by id."""

    def settled() -> str | None:
        running = sessions_by_status(api).get("running", set())
        live = containers(server)
        strays = {c for c in live if not c.startswith("pool-")} - running
        if strays:
            return None
        if len(live) > len(running) + POOL_SIZE:
            return None
        # Workspace disks mount at host/mnt/ws-<disk id> (an internal id): bounded by count.
        attached = [
            w
            for w in expect(api.get("/v1/workspaces", params={"limit": 200}), 200)["data"]
            if w["active_session_id"] in running
        ]
        if len(workspace_mounts(server)) > len(attached):
            return None
        return "settled"

    def describe() -> str:
        return (
            f"containers {containers(server)}, sessions {sessions_by_status(api)}, "
            f"mounts {mounts_under(server.data_dir)}"
        )

    try:
        eventually(settled, what="containers and mounts to match the live sessions")
        assert all(s["active_connection_leases"] == 0 for s in expect(api.get("/v1/sessions"), 200)["data"])
        expect(api.post("/v1/sessions/bulk-terminate", json={"all": True, "force": True}), 200)
        eventually(
            lambda: (
                all(c.startswith("pool-") for c in containers(server))
                and len(containers(server)) <= POOL_SIZE
            ),
            what="only warm-pool spares left in runsc",
        )
        eventually(lambda: not workspace_mounts(server), what="no workspace mount left under the data dir")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {describe()}") from None


def start_writing(server: Server) -> tuple[Api, str, str]:
    api = make_user(server).api
    ws = create_workspace(api)
    session = create_session(api, workspace=ws["id"])
    assert run(api, session["id"], f"printf '{CONTENT}' > /workspace/crash.txt && sync")["exit_code"] == 0
    return api, session["id"], ws["id"]


def test_kill_9_host_daemon_mid_session(runtime: None, spawn_server: Callable[[], Server]) -> None:
    server = spawn_server()
    api, session_id, workspace_id = start_writing(server)
    old_host = server.host_pid()
    os.kill(old_host, signal.SIGKILL)
    eventually(lambda: not pid_alive(old_host), what="the host daemon to die")
    eventually(
        lambda: server.healthy() and server.host_pid() != old_host, what="the server to restart its host"
    )
    assert read_back(api, session_id, workspace_id) == CONTENT
    assert_no_orphans(server, api)


def test_kill_9_server_mid_session(runtime: None, spawn_server: Callable[[], Server]) -> None:
    server = spawn_server()
    api, session_id, workspace_id = start_writing(server)
    host = server.host_pid()
    server.kill9()
    eventually(lambda: not pid_alive(host), timeout_s=15, what="the host daemon to die with its server")
    server.start()
    assert read_back(api, session_id, workspace_id) == CONTENT
    assert_no_orphans(server, api)


def test_kill_9_server_twice_then_clean_stop(runtime: None, spawn_server: Callable[[], Server]) -> None:
    """Two crashes in a row, with a new session between them, still lose nothing."""
    server = spawn_server()
    api, session_id, workspace_id = start_writing(server)
    server.kill9()
    server.start()
    assert read_back(api, session_id, workspace_id) == CONTENT
    extra = create_session(api, ephemeral=True)
    server.kill9()
    server.start()
    assert read_back(api, session_id, workspace_id) == CONTENT
    eventually(
        lambda: expect(api.get(f"/v1/sessions/{extra['id']}"), 200)["status"] in {"running", "terminated"}
    )
    assert_no_orphans(server, api)


@pytest.mark.parametrize("delay_s", [0.05, 0.4, 1.2])
def test_kill_9_server_during_a_create(
    runtime: None, spawn_server: Callable[[], Server], delay_s: float
) -> None:
    """A create cut short leaves no half-made session: after the restart it is running (and execs)
    or terminated with a reason, its workspace is usable, and nothing is orphaned."""
    server = spawn_server()
    api = make_user(server).api
    ws = create_workspace(api)
    in_flight = threading.Thread(
        target=_quietly, args=(api.post, "/v1/sessions"), kwargs={"json": {"workspace": ws["id"]}}
    )
    in_flight.start()
    time.sleep(delay_s)
    server.kill9()
    in_flight.join()
    server.start()

    def settled() -> list[dict[str, Any]] | None:
        found = expect(api.get("/v1/sessions"), 200)["data"]
        return None if any(s["status"] == "creating" for s in found) else found or [{}]

    for session in eventually(settled, what="no session left `creating`"):
        if session.get("status") == "running":
            assert run(api, session["id"], "echo alive")["output"] == "alive\n"
        elif session:
            assert session["termination_reason"] in {
                "create_interrupted",
                "create_failed",
                "host_lost",
                "vm_exited",
            }
    resp = api.post("/v1/sessions", json={"workspace": ws["id"]})
    assert resp.status_code in (200, 201), resp.text
    assert run(api, resp.json()["id"], "touch /workspace/ok && echo ok")["output"] == "ok\n"
    assert_no_orphans(server, api)


def _quietly(call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Runs a request whose connection the test is about to cut (its outcome is checked later)."""
    with contextlib.suppress(httpx.HTTPError):
        call(*args, **kwargs)
