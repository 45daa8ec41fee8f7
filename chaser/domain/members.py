"""Membership roles and who may change them.

Roles: owner > admin > member. Any member lists; owners and admins add, change and remove; only
owners touch owner memberships or grant `owner`; the last owner is never removed or demoted; a
member may leave (remove themself) unless they are the last owner.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import (
    Forbidden,
    InvalidField,
    InvalidRequest,
    LastOwner,
    MemberNotFound,
    UserNotFound,
)
from chaser.domain.names import is_uuid, validate_email
from chaser.domain.principal import Principal
from chaser.store import keys as key_store
from chaser.store import users as user_store
from chaser.store.models import Membership, User, utcnow

ROLES: tuple[str, ...] = ("owner", "admin", "member")
MANAGERS = ("owner", "admin")


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidField(f"role: must be one of {', '.join(ROLES)}")
    return role


def check_add(actor_role: str | None, new_role: str) -> None:
    if actor_role not in MANAGERS:
        raise Forbidden("only owners and admins can add members")
    if new_role == "owner" and actor_role != "owner":
        raise Forbidden("only owners can grant the owner role")


def check_change(actor_role: str | None, target_role: str, new_role: str, owners: int) -> None:
    if actor_role not in MANAGERS:
        raise Forbidden("only owners and admins can change roles")
    if "owner" in (target_role, new_role) and actor_role != "owner":
        raise Forbidden("only owners can change an owner membership or grant the owner role")
    if target_role == "owner" and new_role != "owner" and owners <= 1:
        raise LastOwner()


def check_remove(actor_role: str | None, target_role: str, owners: int, is_self: bool) -> None:
    if not is_self:
        if actor_role not in MANAGERS:
            raise Forbidden("only owners and admins can remove members")
        if target_role == "owner" and actor_role != "owner":
            raise Forbidden("only owners can remove an owner")
    if target_role == "owner" and owners <= 1:
        raise LastOwner()


def _require_org(who: Principal) -> None:
    if who.account_kind != "organization":
        raise InvalidRequest("personal accounts have no other members; create an organization")


async def list_members(db: AsyncSession, who: Principal) -> list[tuple[Membership, User]]:
    return await user_store.list_members(db, who.account_id)


async def add_member(db: AsyncSession, who: Principal, email: str, role: str) -> tuple[Membership, User]:
    who.require_full_access()
    who.require_user()
    validate_role(role)
    _require_org(who)
    check_add(who.role, role)
    user = await user_store.get_by_email(db, validate_email(email))
    if user is None:
        raise UserNotFound(f"no user with email {email!r}; they need an account on this server first")
    membership = await user_store.add_membership(db, who.account_id, user.id, role)
    await db.commit()
    return membership, user


async def _target(db: AsyncSession, who: Principal, user_id: str) -> tuple[Membership, User]:
    membership = await user_store.get_membership(db, who.account_id, user_id) if is_uuid(user_id) else None
    user = await user_store.get(db, user_id) if membership else None
    if membership is None or user is None:
        raise MemberNotFound()
    return membership, user


async def change_role(db: AsyncSession, who: Principal, user_id: str, role: str) -> tuple[Membership, User]:
    who.require_full_access()
    who.require_user()
    validate_role(role)
    membership, user = await _target(db, who, user_id)
    check_change(who.role, membership.role, role, await user_store.count_owners(db, who.account_id))
    membership.role = role
    await db.commit()
    return membership, user


async def remove_member(db: AsyncSession, who: Principal, user_id: str) -> None:
    who.require_full_access()
    actor = who.require_user()
    membership, _ = await _target(db, who, user_id)
    owners = await user_store.count_owners(db, who.account_id)
    check_remove(who.role, membership.role, owners, is_self=actor == user_id)
    await user_store.delete_membership(db, membership)
    # A former member's keys for this account stop working at once.
    await key_store.revoke_all(db, who.account_id, utcnow(), user_id=user_id)
    await db.commit()
