"""SQLAlchemy models: the rows behind users, accounts, keys, workspaces and sessions.

Portable across SQLite and PostgreSQL: string UUIDs, JSON, timezone-aware datetimes (SQLite drops
the zone, so `UtcDateTime` puts UTC back on read). Models never leave `domain`; the API converts
them into its own schemas.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    func,
    select,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column

# Stable constraint names so Alembic migrations look the same on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC, read back aware on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lowercased
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))  # personal | organization
    name: Mapped[str] = mapped_column(String(320))
    # Case-insensitive uniqueness without dialect-specific functional indexes.
    name_lower: Mapped[str] = mapped_column(String(320), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"

    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))  # owner | admin | member
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ServiceAccount(Base):
    __tablename__ = "service_accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the secret
    key_prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)  # [] = full access
    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    service_account_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("service_accounts.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Workspace(Base):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("account_id", "name_lower", name="uq_workspaces_account_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    name_lower: Mapped[str] = mapped_column(String(64))
    session_type: Mapped[str] = mapped_column(String(16))
    image: Mapped[str | None] = mapped_column(String(512), nullable=True)
    template: Mapped[bool] = mapped_column(Boolean, default=False)
    github_repo: Mapped[str | None] = mapped_column(String(512), nullable=True)
    github_ref: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # The import token, sealed with the server's secret (see chaser.domain.sealing); never plain.
    github_token_sealed: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    # ready | importing | import_failed (idle/attached is derived from the lease)
    state: Mapped[str] = mapped_column(String(16), default="ready", server_default="ready")
    state_message: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    source_workspace_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    disk_id: Mapped[str] = mapped_column(String(64))
    # The lease: set only by a conditional UPDATE (see store.workspaces.take_lease). No FK, so a
    # session row and its workspace can be written in either order.
    active_session_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_session_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Snapshot(Base):
    """A restore point of a workspace disk (disk state, never RAM); its bytes live on the host
    as `host_snapshot_id` of the workspace's disk."""

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("workspace_id", "name_lower", name="uq_snapshots_workspace_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(64))
    name_lower: Mapped[str] = mapped_column(String(64))
    host_snapshot_id: Mapped[str] = mapped_column(String(128))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None while copying
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AccountDefault(Base):
    """The account's default workspace for one session type (`PUT /v1/workspaces/default`)."""

    __tablename__ = "account_defaults"

    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    session_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(36), ForeignKey("workspaces.id", ondelete="CASCADE"))


class ConnectionLease(Base):
    """One open stream into a session (PTY socket, SSE stream, forwarded request or socket, tunnel).

    Written when the stream opens and deleted when it ends, however it ends. The holder (the
    server process) refreshes `heartbeat_at`; rows of a dead process are reaped (see
    `chaser.domain.leases`). No foreign key: a lease never outlives the reaper anyway.
    """

    __tablename__ = "connection_leases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # pty | stream | forward | websocket | tunnel
    holder: Mapped[str] = mapped_column(String(128), index=True)  # "<hostname>/<pid>/<instance>"
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Session(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    session_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)  # creating | running | terminated
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    terminated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    termination_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Kept after the workspace is deleted (history), hence no foreign key.
    workspace_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    ephemeral: Mapped[bool] = mapped_column(Boolean, default=False)
    image: Mapped[str | None] = mapped_column(String(512), nullable=True)
    runtime: Mapped[str | None] = mapped_column(String(16), nullable=True)
    accel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    vcpus: Mapped[int] = mapped_column(Integer, default=1)
    memory_mib: Mapped[int] = mapped_column(Integer, default=512)
    internet_access: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    timeout_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    env: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    host_vm_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Live count, read with the row: a correlated COUNT over `connection_leases`.
    active_connection_leases: Mapped[int] = column_property(
        select(func.count(ConnectionLease.id))
        .where(ConnectionLease.session_id == id)
        .correlate_except(ConnectionLease)
        .scalar_subquery()
    )
    created_by_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
