"""Users and their memberships in accounts."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import AlreadyMember, EmailTaken
from chaser.store._integrity import conflict_as
from chaser.store.models import Membership, User


async def create(db: AsyncSession, email: str) -> User:
    user = User(email=email.lower())
    async with conflict_as(db, EmailTaken()):
        db.add(user)
    return user


async def get(db: AsyncSession, user_id: str) -> User | None:
    return await db.get(User, user_id)


async def get_by_email(db: AsyncSession, email: str) -> User | None:
    return (await db.execute(select(User).where(User.email == email.lower()))).scalar_one_or_none()


async def get_membership(db: AsyncSession, account_id: str, user_id: str) -> Membership | None:
    return await db.get(Membership, (account_id, user_id))


async def add_membership(db: AsyncSession, account_id: str, user_id: str, role: str) -> Membership:
    membership = Membership(account_id=account_id, user_id=user_id, role=role)
    async with conflict_as(db, AlreadyMember()):
        db.add(membership)
    return membership


async def list_members(db: AsyncSession, account_id: str) -> list[tuple[Membership, User]]:
    rows = await db.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.account_id == account_id)
        .order_by(Membership.created_at, User.email)
    )
    return [(m, u) for m, u in rows.tuples()]


async def count_owners(db: AsyncSession, account_id: str) -> int:
    query = select(func.count()).where(Membership.account_id == account_id, Membership.role == "owner")
    return int((await db.execute(query)).scalar_one())


async def delete_membership(db: AsyncSession, membership: Membership) -> None:
    await db.delete(membership)
    await db.flush()
