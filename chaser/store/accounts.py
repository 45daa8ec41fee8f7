"""Accounts (personal and organization)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import NameTaken
from chaser.store._integrity import conflict_as
from chaser.store.models import Account, Membership


async def create(db: AsyncSession, kind: str, name: str) -> Account:
    account = Account(kind=kind, name=name, name_lower=name.lower())
    async with conflict_as(db, NameTaken(f"name: an account named {name!r} already exists")):
        db.add(account)
    return account


async def get(db: AsyncSession, account_id: str) -> Account | None:
    return await db.get(Account, account_id)


async def get_by_exact_name(db: AsyncSession, name: str) -> Account | None:
    return (await db.execute(select(Account).where(Account.name == name))).scalar_one_or_none()


async def personal_of(db: AsyncSession, user_id: str) -> Account | None:
    query = (
        select(Account)
        .join(Membership, Membership.account_id == Account.id)
        .where(Membership.user_id == user_id, Account.kind == "personal", Membership.role == "owner")
    )
    return (await db.execute(query)).scalars().first()


async def list_for_user(db: AsyncSession, user_id: str) -> list[tuple[Account, str]]:
    """Accounts the user belongs to, with the user's role in each."""
    rows = await db.execute(
        select(Account, Membership.role)
        .join(Membership, Membership.account_id == Account.id)
        .where(Membership.user_id == user_id)
        .order_by(Account.kind.desc(), Account.created_at)
    )
    return [(a, r) for a, r in rows.tuples()]
