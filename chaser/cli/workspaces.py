"""`chaser workspaces create|list|get|delete|rename|import|default set|snapshots ...`."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from chaser.cli._client import JsonOpt, api_errors, client, fail, want_json
from chaser.cli.sessions import confirm_or_fail

app = typer.Typer(
    help="Workspaces: named persistent disks (snapshots, clones, imports).", no_args_is_help=True
)
default_app = typer.Typer(help="The account's default workspace per session type.", no_args_is_help=True)
snapshots_app = typer.Typer(help="Restore points of a workspace's disk.", no_args_is_help=True)
app.add_typer(default_app, name="default")
app.add_typer(snapshots_app, name="snapshots")

Ws = Annotated[str, typer.Argument(help="Workspace name or id")]
LIST_COLUMNS = (
    "name",
    "id",
    ("session_type", "type"),
    "status",
    ("size", "size"),
    "template",
    "default",
    ("created_at", "created"),
)
GET_FIELDS = (
    "id",
    "name",
    "session_type",
    "status",
    "status_message",
    "image",
    "template",
    "default",
    "github_repo",
    "github_ref",
    "source_workspace_id",
    "active_session_id",
    "last_session_id",
    "size_bytes",
    "created_at",
)
SNAPSHOT_COLUMNS = ("name", "id", ("size", "size"), ("created_at", "created"))
IMPORT_POLL_S = 0.5


def human(n: Any) -> str:
    if not isinstance(n, int):
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def _show(ctx: typer.Context, ws: dict[str, Any], json_: bool) -> None:
    from chaser.cli._output import display_record

    display_record(ws, json_output=want_json(ctx, json_), fields=GET_FIELDS)


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="1..64 chars; generated when omitted")] = None,
    session_type: Annotated[str | None, typer.Option("--type", help="sandbox | browser")] = None,
    image: Annotated[str | None, typer.Option(help="`base` or an OCI reference (sandbox)")] = None,
    template: Annotated[bool, typer.Option("--template", help="Mark it as a template")] = False,
    clone_from: Annotated[
        str | None, typer.Option("--clone-from", help="Copy this workspace (files and metadata)")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Create an empty workspace, or clone one with --clone-from."""
    with api_errors(), client(ctx) as chaser:
        ws = chaser.workspaces.create(
            name=name,
            session_type=session_type,
            image=image,
            template=template or None,
            clone_from=clone_from,
        )
    _show(ctx, ws, json_)


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option(help="At most this many (1..200) [default: 50]")] = None,
    offset: Annotated[int | None, typer.Option(help="Skip this many")] = None,
    json_: JsonOpt = False,
) -> None:
    """List the account's workspaces, newest first."""
    with api_errors(), client(ctx) as chaser:
        page = chaser.workspaces.list(limit=limit, offset=offset)
    rows = [{**w, "size": human(w.get("size_bytes"))} for w in page.get("data", [])]
    from chaser.cli._output import display_table

    display_table(LIST_COLUMNS, rows, json_output=want_json(ctx, json_), raw=page)


@app.command()
def get(ctx: typer.Context, workspace: Ws, json_: JsonOpt = False) -> None:
    """Show one workspace."""
    with api_errors(), client(ctx) as chaser:
        ws = chaser.workspaces.get(workspace)
    _show(ctx, ws, json_)


@app.command()
def delete(
    ctx: typer.Context,
    workspace: Ws,
    force: Annotated[bool, typer.Option("--force", help="Terminate its live session first")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Don't ask")] = False,
    json_: JsonOpt = False,
) -> None:
    """Delete a workspace, its disk and all its snapshots."""
    confirm_or_fail(f"Delete workspace {workspace!r} and all its snapshots?", yes)
    with api_errors(), client(ctx) as chaser:
        gone = chaser.workspaces.delete(workspace, force=force)
    from chaser.cli._output import display_record

    display_record(gone, json_output=want_json(ctx, json_))


@app.command()
def rename(ctx: typer.Context, workspace: Ws, name: str, json_: JsonOpt = False) -> None:
    """Give a workspace a new name."""
    with api_errors(), client(ctx) as chaser:
        ws = chaser.workspaces.rename(workspace, name)
    _show(ctx, ws, json_)


@app.command("template")
def template_(
    ctx: typer.Context,
    workspace: Ws,
    off: Annotated[bool, typer.Option("--off", help="Unmark it")] = False,
    json_: JsonOpt = False,
) -> None:
    """Mark a workspace as a template (clone it to stamp out environments)."""
    with api_errors(), client(ctx) as chaser:
        ws = chaser.workspaces.set_template(workspace, not off)
    _show(ctx, ws, json_)


@app.command("import")
def import_(
    ctx: typer.Context,
    github_repo: Annotated[str, typer.Argument(help="owner/repo or a git URL")],
    ref: Annotated[str | None, typer.Option(help="Branch, tag or commit")] = None,
    name: Annotated[str | None, typer.Option(help="Workspace name")] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="CHASER_GIT_TOKEN", help="For private repositories (or CHASER_GIT_TOKEN)"),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the import ends")] = True,
    json_: JsonOpt = False,
) -> None:
    """Clone a git repository into /workspace of a new sandbox workspace."""
    with api_errors(), client(ctx) as chaser:
        ws = chaser.workspaces.import_(github_repo, ref=ref, name=name, token=token)
        if wait:
            ws = _wait_import(chaser, ws, quiet=want_json(ctx, json_))
    _show(ctx, ws, json_)
    if ws.get("status") == "import_failed":
        raise fail(f"import failed: {ws.get('status_message')}")


def _wait_import(chaser: Any, ws: dict[str, Any], *, quiet: bool) -> dict[str, Any]:
    """Polls until the import ends, with a spinner on stderr (elapsed time and disk size)."""
    from rich.console import Console

    console = Console(stderr=True)
    started = time.monotonic()
    with console.status("", spinner="dots") as status:
        while ws.get("status") == "importing":
            if not quiet:
                elapsed = time.monotonic() - started
                status.update(
                    f"importing {ws.get('github_repo')} into {ws.get('name')}: {elapsed:.0f}s, "
                    f"disk {human(ws.get('size_bytes'))}"
                )
            time.sleep(IMPORT_POLL_S)
            ws = chaser.workspaces.get(ws["id"])
    if not quiet and ws.get("status") != "import_failed":
        console.print(f"imported {ws.get('github_repo')} in {time.monotonic() - started:.1f}s")
    return ws


@default_app.command("set")
def default_set(
    ctx: typer.Context,
    workspace: Annotated[str | None, typer.Argument(help="Workspace name or id (omit with --clear)")] = None,
    session_type: Annotated[str, typer.Option("--type", help="sandbox | browser")] = "sandbox",
    clear: Annotated[bool, typer.Option("--clear", help="Remove the default")] = False,
    json_: JsonOpt = False,
) -> None:
    """Make a workspace the default for its session type (`chaser exec` and /v1/exec use it)."""
    if (workspace is None) != clear:
        raise fail("name a workspace, or pass --clear")
    with api_errors(), client(ctx) as chaser:
        out = chaser.workspaces.set_default(workspace, session_type=session_type)
    if want_json(ctx, json_):
        from chaser.cli._output import print_json

        print_json(out)
    elif out.get("workspace"):
        print(f"default {out['session_type']} workspace: {out['workspace']['name']}")
    else:
        print(f"no default {out['session_type']} workspace")


@snapshots_app.command("create")
def snapshot_create(
    ctx: typer.Context,
    workspace: Ws,
    name: Annotated[str | None, typer.Argument(help="Snapshot name (unique in the workspace)")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Snapshot even with a live session (frozen for the copy)")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Take a restore point of the workspace's disk (files, not RAM)."""
    with api_errors(), client(ctx) as chaser:
        snap = chaser.workspaces.snapshot_create(workspace, name, force=force)
    from chaser.cli._output import display_record

    display_record(snap, json_output=want_json(ctx, json_))


@snapshots_app.command("list")
def snapshot_list(ctx: typer.Context, workspace: Ws, json_: JsonOpt = False) -> None:
    """List a workspace's snapshots, oldest first."""
    with api_errors(), client(ctx) as chaser:
        page = chaser.workspaces.snapshot_list(workspace)
    rows = [{**s, "size": human(s.get("size_bytes"))} for s in page.get("data", [])]
    from chaser.cli._output import display_table

    display_table(SNAPSHOT_COLUMNS, rows, json_output=want_json(ctx, json_), raw=page)


@snapshots_app.command("restore")
def snapshot_restore(
    ctx: typer.Context,
    workspace: Ws,
    snapshot: Annotated[str, typer.Argument(help="Snapshot name or id")],
    force: Annotated[bool, typer.Option("--force", help="Terminate the live session first")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Don't ask")] = False,
    json_: JsonOpt = False,
) -> None:
    """Put a snapshot back as the workspace's disk (what changed since is lost)."""
    confirm_or_fail(f"Restore {workspace!r} to snapshot {snapshot!r}? Changes since are lost.", yes)
    with api_errors(), client(ctx) as chaser:
        done = chaser.workspaces.snapshot_restore(workspace, snapshot, force=force)
    if want_json(ctx, json_):
        from chaser.cli._output import print_json

        print_json(done)
        return
    print(f"restored {done['workspace']['name']} to {done['snapshot']['name']}")
    for sid in done.get("terminated_session_ids", []):
        print(f"terminated session {sid}")


@snapshots_app.command("delete")
def snapshot_delete(
    ctx: typer.Context,
    workspace: Ws,
    snapshot: Annotated[str, typer.Argument(help="Snapshot name or id")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Don't ask")] = False,
    json_: JsonOpt = False,
) -> None:
    """Delete a snapshot."""
    confirm_or_fail(f"Delete snapshot {snapshot!r} of {workspace!r}?", yes)
    with api_errors(), client(ctx) as chaser:
        gone = chaser.workspaces.snapshot_delete(workspace, snapshot)
    from chaser.cli._output import display_record

    display_record(gone, json_output=want_json(ctx, json_))
