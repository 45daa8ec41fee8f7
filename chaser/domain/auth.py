"""Turning a bearer token and an account selector into a `Principal`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import Forbidden, Unauthorized
from chaser.domain.keys import hash_key, looks_like_key, service_account_active
from chaser.domain.principal import Principal
from chaser.store import accounts as account_store
from chaser.store import keys as key_store
from chaser.store import users as user_store


async def authenticate(db: AsyncSession, token: str | None, account_selector: str | None) -> Principal:
    """Resolve `Authorization: Bearer <token>` and `X-Chaser-Account`.

    A key acts only in the account it was created in: naming any other account, or one that
    doesn't exist, is `forbidden` (the same answer either way, so names don't leak).
    """
    if not token or not looks_like_key(token):
        raise Unauthorized()
    key = await key_store.get_active_by_hash(db, hash_key(token))
    if key is None or not await service_account_active(db, key):
        raise Unauthorized()
    account = await account_store.get(db, key.account_id)
    if account is None:
        raise Unauthorized()

    role: str | None = None
    if key.user_id is not None:
        membership = await user_store.get_membership(db, account.id, key.user_id)
        if membership is None:
            raise Forbidden("this key's user is no longer a member of the key's account")
        role = membership.role

    selector = (account_selector or "").strip()
    named_personal = selector.lower() == "personal" and account.kind == "personal"
    if selector and selector not in (account.id, account.name) and not named_personal:
        raise Forbidden(f"this key is bound to account {account.name!r}; use a key of the account you name")

    return Principal(
        key_id=key.id,
        account_id=account.id,
        account_kind=account.kind,
        user_id=key.user_id,
        service_account_id=key.service_account_id,
        scopes=frozenset(key.scopes or []),
        role=role,
    )
