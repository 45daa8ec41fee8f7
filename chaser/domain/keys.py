"""API keys: generation, hashing, scopes, and the key routes' rules.

A key is `sk_` + 43 url-safe characters (32 random bytes). Only its sha256 is stored, with the
first 11 characters as a display prefix. A key is bound to one account; an empty scope list means
full access.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import Forbidden, InsufficientScope, InvalidField, KeyNotFound
from chaser.domain.names import is_uuid
from chaser.domain.principal import Principal
from chaser.store import keys as key_store
from chaser.store import service_accounts as sa_store
from chaser.store.models import ApiKey, utcnow

SCOPES: tuple[str, ...] = (
    "sessions.read",
    "sessions.write",
    "workspaces.read",
    "workspaces.write",
    "exec.write",
    "files.read",
    "files.write",
    "keys.read",
    "keys.write",
    "billing.read",
    "billing.write",
    "audit.read",
    "webhooks.read",
    "webhooks.write",
)
PREFIX_LEN = 11  # "sk_" + 8


@dataclass(frozen=True)
class NewKey:
    secret: str
    key_hash: str
    key_prefix: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> NewKey:
    secret = "sk_" + secrets.token_urlsafe(32)
    return NewKey(secret=secret, key_hash=hash_key(secret), key_prefix=secret[:PREFIX_LEN])


def looks_like_key(token: str) -> bool:
    return token.startswith("sk_") and 10 < len(token) < 200


def normalize_scopes(scopes: Iterable[str] | None) -> list[str]:
    """Validate and dedupe requested scopes (order kept). `[]`/None = full access."""
    result: list[str] = []
    for scope in scopes or []:
        if scope not in SCOPES:
            raise InvalidField(f"scopes: unknown scope {scope!r}; known scopes: {', '.join(SCOPES)}")
        if scope not in result:
            result.append(scope)
    return result


def check_grant(caller_scopes: frozenset[str], requested: list[str]) -> None:
    """A key can't mint a key stronger than itself: a scoped key grants only its own scopes,
    and only a full-access key creates full-access keys."""
    if not caller_scopes:
        return
    if not requested:
        raise InsufficientScope("only a full-access key can create a full-access key; pass `scopes`")
    missing = [s for s in requested if s not in caller_scopes]
    if missing:
        raise InsufficientScope(f"this key can't grant scopes it lacks: {', '.join(missing)}")


async def create_user_key(
    db: AsyncSession, who: Principal, name: str | None, scopes: list[str] | None
) -> tuple[ApiKey, str]:
    """A new key for the calling user, bound to the active account."""
    if who.user_id is None:
        raise Forbidden("service-account keys can't create user keys")
    wanted = normalize_scopes(scopes)
    check_grant(who.scopes, wanted)
    return await mint(db, who.account_id, name, wanted, user_id=who.user_id)


async def mint(
    db: AsyncSession,
    account_id: str,
    name: str | None,
    scopes: list[str],
    *,
    user_id: str | None = None,
    service_account_id: str | None = None,
) -> tuple[ApiKey, str]:
    new = generate_key()
    key = await key_store.create(
        db,
        key_hash=new.key_hash,
        key_prefix=new.key_prefix,
        name=name,
        scopes=scopes,
        account_id=account_id,
        user_id=user_id,
        service_account_id=service_account_id,
    )
    await db.commit()
    return key, new.secret


async def list_keys(db: AsyncSession, who: Principal, limit: int, offset: int) -> tuple[list[ApiKey], int]:
    """The caller's own keys in the active account (a service account sees its own keys)."""
    return await key_store.list_for(
        db,
        who.account_id,
        user_id=who.user_id,
        service_account_id=who.service_account_id,
        limit=limit,
        offset=offset,
    )


async def revoke_key(db: AsyncSession, who: Principal, key_id: str) -> ApiKey:
    """Revoke one of the caller's keys; owners and admins may revoke any key of the account."""
    key = await key_store.get(db, key_id) if is_uuid(key_id) else None
    if key is None or key.account_id != who.account_id or key.revoked_at is not None:
        raise KeyNotFound()
    own = (who.user_id and key.user_id == who.user_id) or (
        who.service_account_id and key.service_account_id == who.service_account_id
    )
    if not own and who.role not in ("owner", "admin"):
        raise KeyNotFound()
    await key_store.revoke(db, key, utcnow())
    await db.commit()
    return key


async def service_account_active(db: AsyncSession, key: ApiKey) -> bool:
    if key.service_account_id is None:
        return True
    return await sa_store.get(db, key.account_id, key.service_account_id) is not None
