"""Users, personal accounts and organizations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import AccountNotFound, EmailTaken, MemberNotFound, UserNotFound
from chaser.domain.keys import mint
from chaser.domain.names import validate_email, validate_name
from chaser.domain.principal import Principal
from chaser.store import accounts as account_store
from chaser.store import users as user_store
from chaser.store.models import Account, ApiKey, User


@dataclass(frozen=True)
class Bootstrap:
    user: User
    account: Account
    key: ApiKey
    secret: str


async def create_user(db: AsyncSession, email: str, *, new_key_if_exists: bool = False) -> Bootstrap:
    """A user, their personal account (named after the lowercased email, user as owner) and a
    full-access key. With `new_key_if_exists`, an existing user gets a fresh key instead."""
    email = validate_email(email)
    user = await user_store.get_by_email(db, email)
    if user is not None:
        if not new_key_if_exists:
            raise EmailTaken(f"a user with email {email!r} already exists; pass --new-key for a new key")
        account = await account_store.personal_of(db, user.id)
        if account is None:
            raise UserNotFound("the user has no personal account")
    else:
        user = await user_store.create(db, email)
        account = await account_store.create(db, "personal", email)
        await user_store.add_membership(db, account.id, user.id, "owner")
    key, secret = await mint(db, account.id, "admin bootstrap", [], user_id=user.id)
    return Bootstrap(user=user, account=account, key=key, secret=secret)


async def list_accounts(db: AsyncSession, who: Principal) -> list[tuple[Account, str | None]]:
    if who.user_id is None:
        account = await account_store.get(db, who.account_id)
        return [(account, None)] if account else []
    return [(a, r) for a, r in await account_store.list_for_user(db, who.user_id)]


async def current_account(db: AsyncSession, who: Principal) -> Account:
    account = await account_store.get(db, who.account_id)
    if account is None:
        raise AccountNotFound()
    return account


async def create_organization(db: AsyncSession, who: Principal, name: str) -> tuple[Account, ApiKey, str]:
    """A new organization owned by the caller, plus a full-access key bound to it (a key acts in
    one account only, so without it the new org would be unreachable)."""
    who.require_full_access()
    user_id = who.require_user()
    validate_name("name", name)
    account = await account_store.create(db, "organization", name)
    await user_store.add_membership(db, account.id, user_id, "owner")
    key, secret = await mint(db, account.id, f"{name} owner key", [], user_id=user_id)
    return account, key, secret


async def create_member_key(
    db: AsyncSession, email: str, account: str, name: str | None = None
) -> tuple[ApiKey, str]:
    """Operator path (`chaser admin create-key`): a full-access key for an existing member of
    `account` (id or exact name), bound to that account. The API can't do this for anyone but
    the caller, because a key only ever acts in the account it was made in."""
    user = await user_store.get_by_email(db, validate_email(email))
    if user is None:
        raise UserNotFound(f"no user with email {email!r}")
    target = await account_store.get(db, account) or await account_store.get_by_exact_name(db, account)
    if target is None:
        raise AccountNotFound(f"no account {account!r}")
    if await user_store.get_membership(db, target.id, user.id) is None:
        raise MemberNotFound(f"{email} is not a member of {target.name!r}; add them first")
    return await mint(db, target.id, name or "admin key", [], user_id=user.id)
