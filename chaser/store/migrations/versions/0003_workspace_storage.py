"""workspace storage: snapshots, default workspaces, import state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 11:00:00

`snapshots` (name unique per workspace, case-insensitively via `name_lower`), `account_defaults`
(one default workspace per account and session type), and on `workspaces` the import selector
(`github_ref`, the sealed token) and its state (`ready` | `importing` | `import_failed`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_lower", sa.String(length=64), nullable=False),
        sa.Column("host_snapshot_id", sa.String(length=128), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_snapshots_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
        sa.UniqueConstraint("workspace_id", "name_lower", name="uq_snapshots_workspace_name"),
    )
    op.create_index(op.f("ix_snapshots_workspace_id"), "snapshots", ["workspace_id"], unique=False)
    op.create_index(op.f("ix_snapshots_account_id"), "snapshots", ["account_id"], unique=False)
    op.create_table(
        "account_defaults",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("session_type", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_defaults_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_account_defaults_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "session_type", name=op.f("pk_account_defaults")),
    )
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(sa.Column("github_ref", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("github_token_sealed", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("state", sa.String(length=16), nullable=False, server_default="ready"))
        batch.add_column(sa.Column("state_message", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("state_message")
        batch.drop_column("state")
        batch.drop_column("github_token_sealed")
        batch.drop_column("github_ref")
    op.drop_table("account_defaults")
    op.drop_index(op.f("ix_snapshots_account_id"), table_name="snapshots")
    op.drop_index(op.f("ix_snapshots_workspace_id"), table_name="snapshots")
    op.drop_table("snapshots")
