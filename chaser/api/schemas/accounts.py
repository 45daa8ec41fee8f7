from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from chaser.api.schemas.common import Body
from chaser.store.models import Account, ApiKey, Membership, ServiceAccount, User


class AccountOut(BaseModel):
    id: str
    name: str
    kind: str
    role: str | None
    created_at: datetime

    @classmethod
    def of(cls, a: Account, role: str | None) -> AccountOut:
        return cls(id=a.id, name=a.name, kind=a.kind, role=role, created_at=a.created_at)


class OrganizationCreate(Body):
    name: str


class MemberCreate(Body):
    email: str
    role: str = Field(default="member", description="`owner`, `admin` or `member`")


class MemberUpdate(Body):
    role: str


class MemberOut(BaseModel):
    user_id: str
    email: str
    role: str
    created_at: datetime

    @classmethod
    def of(cls, m: Membership, u: User) -> MemberOut:
        return cls(user_id=u.id, email=u.email, role=m.role, created_at=m.created_at)


class ServiceAccountCreate(Body):
    name: str


class ServiceAccountOut(BaseModel):
    id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, sa: ServiceAccount) -> ServiceAccountOut:
        return cls(id=sa.id, name=sa.name, created_at=sa.created_at)


class KeyCreate(Body):
    name: str | None = Field(default=None, max_length=100)
    scopes: list[str] | None = Field(default=None, description="Omitted or [] = full access")


class KeyOut(BaseModel):
    id: str
    key_prefix: str
    name: str | None
    scopes: list[str]
    full_access: bool
    account_id: str
    service_account_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, k: ApiKey) -> KeyOut:
        return cls(
            id=k.id,
            key_prefix=k.key_prefix,
            name=k.name,
            scopes=list(k.scopes or []),
            full_access=not k.scopes,
            account_id=k.account_id,
            service_account_id=k.service_account_id,
            created_at=k.created_at,
        )


class KeyCreated(KeyOut):
    key: str = Field(description="The secret; shown only once")

    @classmethod
    def created(cls, k: ApiKey, secret: str) -> KeyCreated:
        return cls(**KeyOut.of(k).model_dump(), key=secret)


class OrganizationCreated(BaseModel):
    account: AccountOut
    key: KeyCreated
