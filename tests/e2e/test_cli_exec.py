"""`chaser exec ID -- command`: output on stdout, the remote exit code as ours; background commands."""

from __future__ import annotations

import json

from tests.e2e.conftest import Cli, assert_clean_error


def test_output_and_success(cli: Cli, sandbox: str) -> None:
    proc = cli("exec", sandbox, "--", "echo", "hello world")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello world\n"


def test_remote_exit_code_becomes_ours(cli: Cli, sandbox: str) -> None:
    proc = cli("exec", sandbox, "--", "sh", "-c", "echo partial; exit 7")
    assert proc.returncode == 7
    assert proc.stdout == "partial\n"


def test_single_argument_is_a_shell_line(cli: Cli, sandbox: str) -> None:
    proc = cli("exec", sandbox, "--", "echo $((6*7)) | tr 4 X")
    assert (proc.returncode, proc.stdout) == (0, "X2\n")


def test_options_and_stdin(cli: Cli, sandbox: str) -> None:
    proc = cli(
        "exec",
        sandbox,
        "--cwd",
        "/tmp",
        "-e",
        "GREETING=hi",
        "--stdin",
        "--",
        "pwd; echo $GREETING; cat",
        input="piped\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "/tmp\nhi\npiped\n"


def test_timeout_exits_124(cli: Cli, sandbox: str) -> None:
    proc = cli("exec", sandbox, "--timeout", "1", "--", "sleep 10")
    assert proc.returncode == 124
    assert "timed out" in proc.stderr


def test_json_output_carries_the_result(cli: Cli, sandbox: str) -> None:
    proc = cli("exec", sandbox, "--json", "--", "exit 3")
    assert proc.returncode == 3
    body = json.loads(proc.stdout)
    assert body["exit_code"] == 3 and body["session_id"] == sandbox


def test_exec_in_a_terminated_session_is_a_clean_error(cli: Cli, sandbox: str) -> None:
    cli.ok("sessions", "terminate", sandbox, "--yes", "--force")
    assert_clean_error(cli("exec", sandbox, "--", "true"))


def test_background_returns_a_command_id_then_follow_streams(cli: Cli, sandbox: str) -> None:
    started = json.loads(
        cli.ok("exec", sandbox, "--background", "--json", "--", "echo one; sleep 1; echo two; exit 4")
    )
    assert started["status"] == "running" and started["command_id"]
    proc = cli("exec", sandbox, "--background", "--follow", "--", "echo a; echo b >&2; exit 5")
    assert proc.returncode == 5, proc.stderr
    assert proc.stdout == "a\n"
    assert "b\n" in proc.stderr
