"""Alembic environment. Always run through `chaser.store.migrate`, which hands over a connection."""

from __future__ import annotations

from alembic import context

from chaser.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with `chaser admin migrate` (chaser.store.migrate), not the alembic CLI"
    )

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
