"""API keys, stored as a sha256 hash plus a short display prefix."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chaser.store.models import ApiKey


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
