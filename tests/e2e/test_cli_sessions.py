"""`chaser sandbox` and `chaser sessions list|get|terminate`, machine (`--json`) and human output."""

from __future__ import annotations

from tests.e2e.conftest import Cli, assert_clean_error


def test_sandbox_prints_a_running_session_id(cli: Cli, sandbox: str) -> None:
    got = cli.json("sessions", "get", sandbox)
    assert got["id"] == sandbox
    assert got["status"] == "running"
    assert got["persistence"] == "ephemeral"


def test_list_json_is_the_api_page(cli: Cli, sandbox: str) -> None:
    page = cli.json("sessions", "list")
    assert {"data", "count", "limit", "offset"} <= set(page)
    assert sandbox in [s["id"] for s in page["data"]]
    running = cli.json("sessions", "list", "--status", "running")
    assert all(s["status"] == "running" for s in running["data"])


def test_global_json_flag_before_the_command(cli: Cli, sandbox: str) -> None:
    import json

    got = json.loads(cli.ok("--json", "sessions", "get", sandbox))
    assert got["id"] == sandbox


def test_human_list_shows_whole_ids(cli: Cli, sandbox: str) -> None:
    out = cli.ok("sessions", "list")
    assert "ID" in out.splitlines()[0]
    assert sandbox in out


def test_terminate_json(cli: Cli, sandbox: str) -> None:
    done = cli.json("sessions", "terminate", sandbox, "--yes")
    assert done["id"] == sandbox
    assert done["status"] == "terminated"
    assert cli.json("sessions", "get", sandbox)["status"] == "terminated"


def test_terminate_without_a_terminal_needs_yes(cli: Cli, sandbox: str) -> None:
    proc = cli("sessions", "terminate", sandbox)
    assert proc.returncode == 1
    assert "rerun with --yes" in proc.stderr
    assert cli.json("sessions", "get", sandbox)["status"] == "running"


def test_terminate_several(cli: Cli) -> None:
    a = cli.ok("sandbox").strip()
    b = cli.ok("sandbox").strip()
    result = cli.json("sessions", "terminate", a, b, "--yes", "--force")
    assert sorted(result["terminated"]) == sorted([a, b])
    assert result["failed"] == []


def test_unknown_session_is_a_clean_error(cli: Cli) -> None:
    proc = cli("sessions", "get", "00000000-0000-0000-0000-000000000000")
    assert_clean_error(proc, "session not found")


def test_bad_key_is_a_clean_error(cli: Cli) -> None:
    proc = cli("--api-key", "sk_" + "x" * 43, "sessions", "list")
    assert_clean_error(proc, "--api-key")


def test_unreachable_server_is_a_clean_error(cli: Cli) -> None:
    proc = cli("--api-url", "http://127.0.0.1:9", "sessions", "list")
    assert_clean_error(proc, "http://127.0.0.1:9")


def test_sandbox_without_internet(cli: Cli) -> None:
    session = cli.json("sandbox", "--no-internet")
    assert session["internet_access"] is False
    assert cli.json("sessions", "get", session["id"])["internet_access"] is False
    cli.ok("sessions", "terminate", session["id"], "--yes", "--force")
