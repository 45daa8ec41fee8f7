"""`chaser admin`: operator commands that talk to the database directly (no server needed; safe
while the server runs, thanks to SQLite WAL)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from chaser.settings import ServerSettings

app = typer.Typer(help="Operator commands (direct database access).", no_args_is_help=True)


def _settings(data_dir: Path | None) -> ServerSettings:
    from chaser.settings import ServerSettings

    return ServerSettings(data_dir=data_dir) if data_dir is not None else ServerSettings()


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
    from chaser.store.db import make_engine, make_sessionmaker
    from chaser.store.migrate import migrate

    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        await migrate(engine)
        async with make_sessionmaker(engine)() as db:
            made = await create(db, email, new_key_if_exists=new_key)
        return {"user_id": made.user.id, "account_id": made.account.id, "key": made.secret}
    finally:
        await engine.dispose()


@app.command()
def migrate(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory [default: .chaser]")
    ] = None,
) -> None:
    """Apply database migrations (the server also does this at start)."""

    async def run() -> None:
        from chaser.store.db import make_engine
        from chaser.store.migrate import migrate as do_migrate

        settings = _settings(data_dir)
        url = settings.resolved_database_url()
        if url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        try:
            await do_migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    typer.echo("database is up to date")
