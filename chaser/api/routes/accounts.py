from __future__ import annotations

from fastapi import APIRouter

from chaser.api.deps import Db, FullAccess, Paging, Principal
from chaser.api.schemas.accounts import AccountOut, KeyCreated, OrganizationCreate, OrganizationCreated
from chaser.api.schemas.common import Page, page_of
from chaser.domain import accounts

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


@router.get("")
async def list_(who: Principal, db: Db, page: Paging) -> Page[AccountOut]:
    """Accounts the caller's user belongs to, with their role in each."""
    return page_of([AccountOut.of(a, role) for a, role in await accounts.list_accounts(db, who)], page)


@router.get("/current")
async def current(who: Principal, db: Db) -> AccountOut:
    return AccountOut.of(await accounts.current_account(db, who), who.role)


@router.post("/organizations", status_code=201)
async def create_organization(body: OrganizationCreate, who: FullAccess, db: Db) -> OrganizationCreated:
    """A new organization owned by the caller, with a full-access key bound to it (shown once)."""
    account, key, secret = await accounts.create_organization(db, who, body.name)
    return OrganizationCreated(account=AccountOut.of(account, "owner"), key=KeyCreated.created(key, secret))
