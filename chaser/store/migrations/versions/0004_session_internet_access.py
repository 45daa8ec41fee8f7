"""sessions.internet_access: whether a session's VM may reach the outside (NAT egress)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 12:30:00

Existing sessions get true, the default of the create request.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("internet_access", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("internet_access")
