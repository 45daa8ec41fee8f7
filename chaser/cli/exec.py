"""`chaser exec ID -- command...`: run a command in a sandbox; the CLI exits with its exit code."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer

from chaser.cli._client import JsonOpt, api_errors, client, fail, want_json
from chaser.cli.sessions import parse_env

# The conventional exit status of a command that ran out of time (as `timeout(1)` uses).
TIMED_OUT_EXIT = 124


def command_line(argv: list[str]) -> str:
    """One argument is taken as a shell command line as is; several are quoted and joined."""
    if argv and argv[0] == "--":
        argv = argv[1:]
    return argv[0] if len(argv) == 1 else shlex.join(argv)


def exec_(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(help="Session id")],
    command: Annotated[list[str], typer.Argument(help="The command (after --)", show_default=False)],
    cwd: Annotated[str | None, typer.Option(help="Working directory")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE, repeatable")] = None,
    timeout_s: Annotated[
        float | None, typer.Option("--timeout", help="Seconds before the command is killed [default: 60]")
    ] = None,
    user: Annotated[str | None, typer.Option(help="Run as this user [default: root]")] = None,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Send this program's standard input to the command")
    ] = False,
    background: Annotated[
        bool, typer.Option("--background", "-b", help="Start it and return its command id at once")
    ] = False,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="With --background: stream its output until it exits")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Run a command in a sandbox and print its output; exits with the command's exit code.

    chaser exec SESSION -- ls -la /workspace
    """
    if not command or command == ["--"]:
        raise fail("give the command after --, e.g. chaser exec ID -- uname -a")
    as_json = want_json(ctx, json_)
    stdin_text = sys.stdin.read() if stdin else None
    timeout_ms = int(timeout_s * 1000) if timeout_s is not None else None
    with api_errors(), client(ctx) as chaser:
        result = chaser.exec(
            session_id,
            command_line(command),
            cwd=cwd,
            env=parse_env(env),
            stdin=stdin_text,
            timeout_ms=timeout_ms,
            user=user,
            background=background,
        )
        if background:
            if follow:
                raise typer.Exit(_follow(chaser, session_id, result["command_id"], as_json))
            if as_json:
                from chaser.cli._output import print_json

                print_json(result)
            else:
                print(result.get("command_id"))
            return
    if as_json:
        from chaser.cli._output import print_json

        print_json(result)
    else:
        sys.stdout.write(result.get("output") or "")
        sys.stdout.flush()
        if result.get("output_truncated"):
            print("error: output truncated at 1 MiB", file=sys.stderr)
    if result.get("status") == "timed_out":
        if not as_json:
            print("error: the command timed out (raise --timeout)", file=sys.stderr)
        raise typer.Exit(TIMED_OUT_EXIT)
    raise typer.Exit(int(result.get("exit_code") or 0))


def _follow(chaser: object, session_id: str, command_id: str, as_json: bool) -> int:
    """Streams a background command's events: stdout/stderr to ours, or one JSON line per event."""
    import json

    code = 0
    for event in chaser.commands.stream(session_id, command_id):  # type: ignore[attr-defined]
        if as_json:
            print(json.dumps({"id": event.id, "event": event.event, **(event.raw or {})}), flush=True)
        elif event.event == "stdout":
            sys.stdout.write(event.data)
            sys.stdout.flush()
        elif event.event == "stderr":
            sys.stderr.write(event.data)
            sys.stderr.flush()
        elif event.event == "dropped":
            print("error: some output was dropped (buffer full)", file=sys.stderr)
        if event.event == "exit":
            code = event.exit_code if event.exit_code is not None else 1
    return code
