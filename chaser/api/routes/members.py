from __future__ import annotations

from fastapi import APIRouter

from chaser.api.deps import Db, FullAccess, Paging, Principal
from chaser.api.schemas.accounts import MemberCreate, MemberOut, MemberUpdate
from chaser.api.schemas.common import Deleted, Page, page_of
from chaser.domain import members

router = APIRouter(prefix="/v1/accounts/current/members", tags=["members"])


@router.get("")
async def list_(who: Principal, db: Db, page: Paging) -> Page[MemberOut]:
    return page_of([MemberOut.of(m, u) for m, u in await members.list_members(db, who)], page)


@router.post("", status_code=201)
async def add(body: MemberCreate, who: FullAccess, db: Db) -> MemberOut:
    """Owners and admins add existing users; only owners grant `owner`."""
    return MemberOut.of(*await members.add_member(db, who, body.email, body.role))


@router.patch("/{user_id}")
async def change_role(user_id: str, body: MemberUpdate, who: FullAccess, db: Db) -> MemberOut:
    """The last owner can't be demoted (409 `last_owner`)."""
    return MemberOut.of(*await members.change_role(db, who, user_id, body.role))


@router.delete("/{user_id}")
async def remove(user_id: str, who: FullAccess, db: Db) -> Deleted:
    """Remove a member (or leave, with your own id); their keys for this account are revoked."""
    await members.remove_member(db, who, user_id)
    return Deleted(id=user_id)
