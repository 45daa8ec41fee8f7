from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from chaser.api.deps import Db, FullAccess, Paging, Requires
from chaser.api.schemas.accounts import KeyCreate, KeyCreated, ServiceAccountCreate, ServiceAccountOut
from chaser.api.schemas.common import Deleted, Page, page_of
from chaser.domain import service_accounts
from chaser.domain.principal import Principal

router = APIRouter(prefix="/v1/accounts/current/service-accounts", tags=["service-accounts"])


@router.get("")
async def list_(who: FullAccess, db: Db, page: Paging) -> Page[ServiceAccountOut]:
    return page_of(
        [ServiceAccountOut.of(sa) for sa in await service_accounts.list_service_accounts(db, who)], page
    )


@router.post("", status_code=201)
async def create(body: ServiceAccountCreate, who: FullAccess, db: Db) -> ServiceAccountOut:
    """Organizations only; owners and admins."""
    return ServiceAccountOut.of(await service_accounts.create_service_account(db, who, body.name))


@router.delete("/{sa_id}")
async def delete(sa_id: str, who: FullAccess, db: Db) -> Deleted:
    """Deleting a service account revokes all its keys."""
    sa = await service_accounts.delete_service_account(db, who, sa_id)
    return Deleted(id=sa.id)


@router.post("/{sa_id}/keys", status_code=201)
async def create_key(
    sa_id: str, body: KeyCreate, who: Annotated[Principal, Requires("keys.write")], db: Db
) -> KeyCreated:
    key, secret = await service_accounts.create_service_account_key(db, who, sa_id, body.name, body.scopes)
    return KeyCreated.created(key, secret)
