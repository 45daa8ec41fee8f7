"""Service accounts: organization-owned identities for automation, managed by owners/admins."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import Forbidden, InvalidField, InvalidRequest, ServiceAccountNotFound
from chaser.domain.keys import check_grant, mint, normalize_scopes
from chaser.domain.names import is_uuid
from chaser.domain.principal import Principal
from chaser.store import keys as key_store
from chaser.store import service_accounts as sa_store
from chaser.store.models import ApiKey, ServiceAccount, utcnow


def require_manager(who: Principal) -> None:
    """Organizations only; owners and admins only; with a full-access user key."""
    who.require_full_access()
    if who.account_kind != "organization":
        raise InvalidRequest("service accounts exist only in organizations")
    if who.role not in ("owner", "admin"):
        raise Forbidden("only owners and admins manage service accounts")


async def get_service_account(db: AsyncSession, who: Principal, sa_id: str) -> ServiceAccount:
    sa = await sa_store.get(db, who.account_id, sa_id) if is_uuid(sa_id) else None
    if sa is None:
        raise ServiceAccountNotFound()
    return sa


async def list_service_accounts(db: AsyncSession, who: Principal) -> list[ServiceAccount]:
    require_manager(who)
    return await sa_store.list_for(db, who.account_id)


async def create_service_account(db: AsyncSession, who: Principal, name: str) -> ServiceAccount:
    require_manager(who)
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise InvalidField("name: must be 1 to 64 characters")
    sa = await sa_store.create(db, who.account_id, name)
    await db.commit()
    return sa


async def delete_service_account(db: AsyncSession, who: Principal, sa_id: str) -> ServiceAccount:
    require_manager(who)
    sa = await get_service_account(db, who, sa_id)
    now = utcnow()
    await sa_store.mark_deleted(db, sa, now)
    await key_store.revoke_all(db, who.account_id, now, service_account_id=sa.id)
    await db.commit()
    return sa


async def create_service_account_key(
    db: AsyncSession, who: Principal, sa_id: str, name: str | None, scopes: list[str] | None
) -> tuple[ApiKey, str]:
    require_manager(who)
    sa = await get_service_account(db, who, sa_id)
    wanted = normalize_scopes(scopes)
    check_grant(who.scopes, wanted)
    return await mint(db, who.account_id, name, wanted, service_account_id=sa.id)
