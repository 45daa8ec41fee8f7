"""`chaser admin`: operator commands that talk to the database directly (no server needed; safe
while the server runs, thanks to SQLite WAL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from chaser.settings import ServerSettings

app = typer.Typer(help="Operator commands (direct database access).", no_args_is_help=True)


def _settings(data_dir: Path | None) -> ServerSettings:
    from chaser.settings import ServerSettings

    return ServerSettings(data_dir=data_dir) if data_dir is not None else ServerSettings()


@asynccontextmanager
async def _database(settings: ServerSettings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated database for one command: creates the SQLite data dir when needed."""
    from chaser.store.db import make_engine, make_sessionmaker
    from chaser.store.migrate import migrate as do_migrate

    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        await do_migrate(engine)
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@app.command("create-user")
def create_user(
    email: Annotated[
        str, typer.Option("--email", help="The user's email (also their personal account's name)")
    ],
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory [default: .chaser]")
    ] = None,
    new_key: Annotated[
        bool,
        typer.Option("--new-key", help="If the user exists, print a new full-access key instead of failing"),
    ] = False,
) -> None:
    """Create a user, their personal account and a full-access API key.

    Prints one JSON object: {"user_id", "account_id", "key"}. An existing email is an error
    (exit code 1) unless --new-key is given. Uses CHASER_DATABASE_URL when set.
    """
    from chaser.domain.errors import ChaserError

    try:
        result = asyncio.run(_create_user(_settings(data_dir), email, new_key))
    except ChaserError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(result))


async def _create_user(settings: ServerSettings, email: str, new_key: bool) -> dict[str, str]:
    from chaser.domain.accounts import create_user as create

    async with _database(settings) as sessionmaker, sessionmaker() as db:
        made = await create(db, email, new_key_if_exists=new_key)
    return {"user_id": made.user.id, "account_id": made.account.id, "key": made.secret}


@app.command("create-key")
def create_key(
    email: Annotated[str, typer.Option("--email", help="An existing user")],
    account: Annotated[
        str, typer.Option("--account", help="Account id or exact name the user is a member of")
    ],
    name: Annotated[str | None, typer.Option("--name", help="A label for the key")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory [default: .chaser]")
    ] = None,
) -> None:
    """Create a full-access key for a member, bound to that account (how members of an
    organization get a key for it). Prints one JSON object:
    {"id", "key", "key_prefix", "account_id", "user_id", "scopes", "full_access"}."""
    from chaser.domain.errors import ChaserError

    async def run() -> dict[str, object]:
        from chaser.domain.accounts import create_member_key

        async with _database(_settings(data_dir)) as sessionmaker, sessionmaker() as db:
            key, secret = await create_member_key(db, email, account, name)
            return {
                "id": key.id,
                "key": secret,
                "key_prefix": key.key_prefix,
                "account_id": key.account_id,
                "user_id": key.user_id,
                "scopes": [],
                "full_access": True,
            }

    try:
        result = asyncio.run(run())
    except ChaserError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(json.dumps(result))


@app.command()
def migrate(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory [default: .chaser]")
    ] = None,
) -> None:
    """Apply database migrations (the server also does this at start)."""

    async def run() -> None:
        async with _database(_settings(data_dir)):
            pass

    asyncio.run(run())
    typer.echo("database is up to date")


@app.command()
def reap(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory [default: .chaser]")
    ] = None,
) -> None:
    """Stop every sandbox and unmount every disk a stopped server left running in its data dir.

    `chaser server` stops restart-safe: sessions keep running and are adopted at the next start.
    Run this after stopping the server to stop them for good (their records are settled as
    terminated at the next start)."""
    from chaser.host.reap import DaemonRunning
    from chaser.host.reap import reap as reap_state_dir

    state_dir = _settings(data_dir).data_dir / "host"
    try:
        reaped = reap_state_dir(state_dir)
    except DaemonRunning as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        json.dumps(
            {
                "sandboxes": reaped.sandboxes,
                "vm_processes": reaped.vm_processes,
                "networks": reaped.networks,
                "mounts": reaped.mounts,
            }
        )
    )


@app.command("prune-images")
def prune_images(
    older_than_days: Annotated[
        float, typer.Option("--older-than-days", min=0.0, help="Delete what nothing used for this long")
    ] = 7.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would go")] = False,
    image_cache: Annotated[
        Path | None,
        typer.Option("--image-cache", help="[default: CHASER_IMAGE_CACHE or /var/cache/chaser/images]"),
    ] = None,
) -> None:
    """Delete old guest images and QEMU templates (the host daemon also does this hourly).

    Kept: the images the cache's aliases point at (`base`, `browser`, …), their VM images, and
    anything used within the period; pulled OCI images are never pruned."""
    from chaser.host.images.prune import DAY_S, prune, stale

    cache = image_cache or _settings(None).image_cache
    max_age_s = older_than_days * DAY_S
    gone = stale(cache, max_age_s) if dry_run else prune(cache, max_age_s)
    typer.echo(
        json.dumps({"dry_run": dry_run, "deleted" if not dry_run else "would_delete": [str(p) for p in gone]})
    )
