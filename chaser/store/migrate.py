"""Apply the Alembic migrations shipped in this package, programmatically.

Runs inside the caller's event loop on its async engine: the migration gets a sync connection
through `run_sync`, so no second loop and no `alembic.ini` are needed.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the database to the newest revision. Idempotent; safe with concurrent callers on
    SQLite (the whole upgrade is one IMMEDIATE transaction)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
