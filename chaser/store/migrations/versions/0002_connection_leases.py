"""connection leases: one row per open stream into a session

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 10:00:00

The sessions table's `active_connection_leases` counter (never written) gives way to a live
COUNT over this table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connection_leases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connection_leases")),
    )
    op.create_index(
        op.f("ix_connection_leases_session_id"), "connection_leases", ["session_id"], unique=False
    )
    op.create_index(op.f("ix_connection_leases_holder"), "connection_leases", ["holder"], unique=False)
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("active_connection_leases")


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(
            sa.Column("active_connection_leases", sa.Integer(), nullable=False, server_default="0")
        )
    op.drop_index(op.f("ix_connection_leases_holder"), table_name="connection_leases")
    op.drop_index(op.f("ix_connection_leases_session_id"), table_name="connection_leases")
    op.drop_table("connection_leases")
