from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from chaser.api.deps import Db, Paging, Requires
from chaser.api.schemas.accounts import KeyCreate, KeyCreated, KeyOut
from chaser.api.schemas.common import Deleted, Page
from chaser.domain import keys
from chaser.domain.principal import Principal

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", status_code=201)
async def create(body: KeyCreate, who: Annotated[Principal, Requires("keys.write")], db: Db) -> KeyCreated:
    """A key for the calling user, bound to the active account. `scopes` omitted or `[]` = full
    access; a scoped key can only grant scopes it holds itself. The secret is shown only here."""
    key, secret = await keys.create_user_key(db, who, body.name, body.scopes)
    return KeyCreated.created(key, secret)


@router.get("")
async def list_(who: Annotated[Principal, Requires("keys.read")], db: Db, page: Paging) -> Page[KeyOut]:
    rows, total = await keys.list_keys(db, who, page.limit, page.offset)
    return Page(data=[KeyOut.of(k) for k in rows], count=total, limit=page.limit, offset=page.offset)


@router.delete("/{key_id}")
async def revoke(key_id: str, who: Annotated[Principal, Requires("keys.write")], db: Db) -> Deleted:
    key = await keys.revoke_key(db, who, key_id)
    return Deleted(id=key.id)
