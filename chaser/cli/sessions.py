"""`chaser sessions list|get|terminate` and `chaser sandbox`."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from chaser.cli._client import JsonOpt, api_errors, client, fail, want_json

app = typer.Typer(help="List, inspect and terminate sessions.", no_args_is_help=True)

LIST_COLUMNS = (
    "id",
    ("session_type", "type"),
    "status",
    "persistence",
    ("workspace_id", "workspace"),
    ("created_at", "created"),
    "leases",
)
GET_FIELDS = (
    "id",
    "session_type",
    "status",
    "persistence",
    "workspace_id",
    "image",
    "runtime",
    "vcpus",
    "memory_mib",
    "internet_access",
    "timeout_s",
    "created_at",
    "terminated_at",
    "termination_reason",
    "active_connection_leases",
    "endpoints",
)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="creating | running | terminated")] = None,
    session_type: Annotated[str | None, typer.Option("--type", help="sandbox | browser")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many (1..200) [default: 50]")] = None,
    offset: Annotated[int | None, typer.Option(help="Skip this many")] = None,
    json_: JsonOpt = False,
) -> None:
    """List the account's sessions, newest first. `--json` prints the API's page object."""
    with api_errors(), client(ctx) as chaser:
        page = chaser.sessions.list(status=status, session_type=session_type, limit=limit, offset=offset)
    rows = [{**s, "leases": s.get("active_connection_leases")} for s in page.get("data", [])]
    from chaser.cli._output import display_table

    display_table(LIST_COLUMNS, rows, json_output=want_json(ctx, json_), raw=page)


@app.command()
def get(
    ctx: typer.Context, session_id: Annotated[str, typer.Argument(help="Session id")], json_: JsonOpt = False
) -> None:
    """Show one session."""
    with api_errors(), client(ctx) as chaser:
        session = chaser.sessions.get(session_id)
    from chaser.cli._output import display_record

    display_record(session, json_output=want_json(ctx, json_), fields=GET_FIELDS)


def confirm_or_fail(question: str, yes: bool) -> None:
    """Destructive commands ask first; without a terminal to ask on, `--yes` is required."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise fail(f"{question} needs confirmation: rerun with --yes")
    if not typer.confirm(question, default=False):
        raise typer.Exit(1)


@app.command()
def terminate(
    ctx: typer.Context,
    session_ids: Annotated[list[str] | None, typer.Argument(help="Session ids", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every live session of the account")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Also when terminals, streams or forwards are open")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Don't ask for confirmation")] = False,
    json_: JsonOpt = False,
) -> None:
    """Terminate sessions (destroys their VMs; workspace disks are kept)."""
    ids = session_ids or []
    if not ids and not all_:
        raise fail("name at least one session id, or pass --all")
    what = "every live session" if all_ else ", ".join(ids)
    confirm_or_fail(f"Terminate {what}?", yes)
    as_json = want_json(ctx, json_)
    with api_errors(), client(ctx) as chaser:
        if len(ids) == 1 and not all_:
            session = chaser.sessions.terminate(ids[0], force=force)
            result: dict[str, Any] = {"terminated": [session["id"]], "failed": []}
            if as_json:
                from chaser.cli._output import print_json

                print_json(session)
                return
        else:
            result = chaser.sessions.bulk_terminate(ids=ids, all=all_, force=force)
    if as_json:
        from chaser.cli._output import print_json

        print_json(result)
    else:
        for sid in result.get("terminated", []):
            print(f"terminated {sid}")
        for failure in result.get("failed", []):
            print(f"error: {failure.get('id')}: {failure.get('message')}", file=sys.stderr)
    if result.get("failed"):
        raise typer.Exit(1)


def sandbox(
    ctx: typer.Context,
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Run on this workspace's disk (persistent)")
    ] = None,
    image: Annotated[str | None, typer.Option(help="Image (ephemeral sandboxes only)")] = None,
    timeout_s: Annotated[int | None, typer.Option("--timeout", help="Lifetime limit in seconds")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="KEY=VALUE, repeatable")] = None,
    shell: Annotated[bool, typer.Option("--shell", help="Open a shell in it right away")] = False,
    internet: Annotated[
        bool, typer.Option("--internet/--no-internet", help="Outbound network from the sandbox (NAT)")
    ] = True,
    json_: JsonOpt = False,
) -> None:
    """Create a sandbox: ephemeral, or on `--workspace NAME`. Prints its id."""
    with api_errors(), client(ctx) as chaser:
        session = chaser.sessions.create(
            workspace=workspace,
            image=image,
            timeout_s=timeout_s,
            env=parse_env(env),
            internet_access=None if internet else False,
        )
    if want_json(ctx, json_):
        from chaser.cli._output import print_json

        print_json(session)
    else:
        print(session["id"])
    if shell:
        from chaser.cli.shell import open_shell

        raise typer.Exit(open_shell(ctx, session["id"], None))


def parse_env(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise fail(f"--env {pair!r}: expected KEY=VALUE")
        env[key] = value
    return env
