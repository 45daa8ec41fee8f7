"""API keys, stored as a sha256 hash plus a short display prefix.

`grant_by_hash` resolves a key to everything authentication needs in one joined query.
`auth_generation()` changes after every commit that wrote a key, account, membership, user or
service account (in this process), so a cache of grants can tell its entries may be stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as SyncSession

from chaser.store.models import Account, ApiKey, Membership, ServiceAccount, User


async def create(
    db: AsyncSession,
    *,
    key_hash: str,
    key_prefix: str,
    name: str | None,
    scopes: list[str],
    account_id: str,
    user_id: str | None = None,
    service_account_id: str | None = None,
) -> ApiKey:
    key = ApiKey(
        key_hash=key_hash,
        key_prefix=key_prefix,
        name=name,
        scopes=scopes,
        account_id=account_id,
        user_id=user_id,
        service_account_id=service_account_id,
    )
    db.add(key)
    await db.flush()
    return key


async def get_active_by_hash(db: AsyncSession, key_hash: str) -> ApiKey | None:
    query = select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    return (await db.execute(query)).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """An active key with its account, the user's role there and whether its service account
    is still active. `role` is None when the key's user is no longer a member (or for
    service-account keys)."""

    key_id: str
    account_id: str
    account_name: str
    account_kind: str
    user_id: str | None
    service_account_id: str | None
    scopes: tuple[str, ...]
    role: str | None
    service_account_active: bool


async def grant_by_hash(db: AsyncSession, key_hash: str) -> KeyGrant | None:
    """The active key with this hash and what it acts as (one query), or None when there is no
    such key or its account is gone."""
    query = (
        select(
            ApiKey.id,
            ApiKey.account_id,
            Account.name,
            Account.kind,
            ApiKey.user_id,
            ApiKey.service_account_id,
            ApiKey.scopes,
            Membership.role,
            ServiceAccount.id,
        )
        .join(Account, Account.id == ApiKey.account_id)
        .outerjoin(
            Membership,
            and_(Membership.account_id == ApiKey.account_id, Membership.user_id == ApiKey.user_id),
        )
        .outerjoin(
            ServiceAccount,
            and_(
                ServiceAccount.id == ApiKey.service_account_id,
                ServiceAccount.account_id == ApiKey.account_id,
                ServiceAccount.deleted_at.is_(None),
            ),
        )
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    )
    row = (await db.execute(query)).one_or_none()
    if row is None:
        return None
    key_id, account_id, name, kind, user_id, sa_id, scopes, role, active_sa = row
    return KeyGrant(
        key_id=key_id,
        account_id=account_id,
        account_name=name,
        account_kind=kind,
        user_id=user_id,
        service_account_id=sa_id,
        scopes=tuple(scopes or ()),
        role=role if user_id is not None else None,
        service_account_active=sa_id is None or active_sa is not None,
    )


# -- what changed who a key is -------------------------------------------------------------------

_AUTH_MODELS = (ApiKey, Account, Membership, ServiceAccount, User)
_AUTH_TABLES = frozenset(m.__table__.name for m in _AUTH_MODELS)  # type: ignore[attr-defined]
_TOUCHED = "chaser_auth_touched"
_generation = 0


def auth_generation() -> int:
    """Bumped after each commit (in this process) that wrote an auth row; see `KeyGrant`."""
    return _generation


def auth_changed() -> None:
    global _generation
    _generation += 1


@event.listens_for(SyncSession, "after_flush")
def _after_flush(session: SyncSession, _flush_context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _AUTH_MODELS):
            session.info[_TOUCHED] = True
            auth_changed()  # now too: a cached grant must not outlive the flush in this process
            return


@event.listens_for(SyncSession, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _AUTH_TABLES:
            state.session.info[_TOUCHED] = True
            auth_changed()


@event.listens_for(SyncSession, "after_commit")
def _after_commit(session: SyncSession) -> None:
    # Again after the commit: a grant read between the flush and the commit saw the old rows.
    if session.info.pop(_TOUCHED, False):
        auth_changed()


@event.listens_for(SyncSession, "after_rollback")
def _after_rollback(session: SyncSession) -> None:
    session.info.pop(_TOUCHED, None)


async def get(db: AsyncSession, key_id: str) -> ApiKey | None:
    return await db.get(ApiKey, key_id)


async def list_for(
    db: AsyncSession,
    account_id: str,
    *,
    user_id: str | None,
    service_account_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[ApiKey], int]:
    where = [
        ApiKey.account_id == account_id,
        ApiKey.revoked_at.is_(None),
        ApiKey.user_id == user_id if user_id else ApiKey.service_account_id == service_account_id,
    ]
    total = (await db.execute(select(func.count()).select_from(ApiKey).where(*where))).scalar_one()
    query = (
        select(ApiKey).where(*where).order_by(ApiKey.created_at.desc(), ApiKey.id).limit(limit).offset(offset)
    )
    return list((await db.execute(query)).scalars()), int(total)


async def revoke(db: AsyncSession, key: ApiKey, now: datetime) -> None:
    key.revoked_at = now
    await db.flush()


async def revoke_all(
    db: AsyncSession,
    account_id: str,
    now: datetime,
    *,
    user_id: str | None = None,
    service_account_id: str | None = None,
) -> None:
    """Revoke every key of a user (or service account) bound to one account."""
    query = update(ApiKey).where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
    if user_id:
        query = query.where(ApiKey.user_id == user_id)
    else:
        query = query.where(ApiKey.service_account_id == service_account_id)
    await db.execute(query.values(revoked_at=now))
