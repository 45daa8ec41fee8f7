"""The one place where SQLAlchemy's IntegrityError becomes a domain Conflict."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import Conflict


@asynccontextmanager
async def conflict_as(db: AsyncSession, error: Conflict) -> AsyncIterator[None]:
    """Flush inside the block; a uniqueness clash rolls back and raises `error` instead."""
    try:
        yield
        await db.flush()
    except IntegrityError as exc:
        await db.rollback()
        raise error from exc
