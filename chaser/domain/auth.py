"""Turning a bearer token and an account selector into a `Principal`.

Resolving a key is one joined query (`key_store.grant_by_hash`), and its answer is cached in
this process for `CACHE_TTL_S`, keyed by the key's hash. Every commit in this process that
writes a key, account, membership, user or service account empties the cache (through
`key_store.auth_generation()`), so a revoke, a member removal or a service-account delete
takes effect here at once; another server process on the same database notices within
`CACHE_TTL_S` (docs/decisions.md, "Auth"). Only keys that authenticate are cached.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import Forbidden, Unauthorized
from chaser.domain.keys import hash_key, looks_like_key
from chaser.domain.principal import Principal
from chaser.store import keys as key_store

CACHE_TTL_S = 5.0
CACHE_MAX = 10_000


class _GrantCache:
    """(database, key hash) → (grant, generation, expiry). Single event loop thread: no lock."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[key_store.KeyGrant, int, float]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> key_store.KeyGrant | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        grant, generation, expires = entry
        if generation != key_store.auth_generation() or time.monotonic() >= expires:
            self._entries.pop(key, None)
            return None
        return grant

    def put(self, key: tuple[str, str], grant: key_store.KeyGrant, generation: int) -> None:
        if generation != key_store.auth_generation():
            return  # an auth row changed while we read: what we read may already be stale
        self._entries[key] = (grant, generation, time.monotonic() + CACHE_TTL_S)
        self._entries.move_to_end(key)
        while len(self._entries) > CACHE_MAX:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


_cache = _GrantCache()


def clear_cache() -> None:
    _cache.clear()


async def _grant(db: AsyncSession, key_hash: str) -> key_store.KeyGrant:
    bind = db.bind
    cache_key = (str(bind.engine.url) if bind is not None else "", key_hash)
    grant = _cache.get(cache_key)
    if grant is not None:
        return grant
    generation = key_store.auth_generation()
    grant = await key_store.grant_by_hash(db, key_hash)
    if grant is None or not grant.service_account_active:
        raise Unauthorized()
    if grant.user_id is not None and grant.role is None:
        raise Forbidden("this key's user is no longer a member of the key's account")
    _cache.put(cache_key, grant, generation)
    return grant


async def authenticate(db: AsyncSession, token: str | None, account_selector: str | None) -> Principal:
    """Resolve `Authorization: Bearer <token>` and `X-Chaser-Account`.

    A key acts only in the account it was created in: naming any other account, or one that
    doesn't exist, is `forbidden` (the same answer either way, so names don't leak).
    """
    if not token or not looks_like_key(token):
        raise Unauthorized()
    grant = await _grant(db, hash_key(token))

    selector = (account_selector or "").strip()
    named_personal = selector.lower() == "personal" and grant.account_kind == "personal"
    if selector and selector not in (grant.account_id, grant.account_name) and not named_personal:
        raise Forbidden(
            f"this key is bound to account {grant.account_name!r}; use a key of the account you name"
        )

    return Principal(
        key_id=grant.key_id,
        account_id=grant.account_id,
        account_kind=grant.account_kind,
        user_id=grant.user_id,
        service_account_id=grant.service_account_id,
        scopes=frozenset(grant.scopes),
        role=grant.role,
    )
