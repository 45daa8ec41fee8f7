"""Dependencies as `Annotated` aliases, so routes read like sentences:
`who: Annotated[Principal, Requires("sessions.write")]`, `db: Db`, `host: HostDep`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.auth import authenticate
from chaser.domain.host import Host
from chaser.domain.leases import Leases
from chaser.domain.principal import Principal as PrincipalT
from chaser.domain.quotas import StoragePolicy
from chaser.settings import ServerSettings


async def _db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as db:
        yield db


Db = Annotated[AsyncSession, Depends(_db)]


def _host(request: Request) -> Host:
    host: Host = request.app.state.host
    return host


HostDep = Annotated[Host, Depends(_host)]


def _leases(request: Request) -> Leases:
    leases: Leases = request.app.state.leases
    return leases


LeasesDep = Annotated[Leases, Depends(_leases)]


def _settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[ServerSettings, Depends(_settings)]


def _policy(request: Request) -> StoragePolicy:
    policy: StoragePolicy = request.app.state.storage_policy
    return policy


PolicyDep = Annotated[StoragePolicy, Depends(_policy)]


async def _principal(request: Request, db: Db) -> PrincipalT:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    who = await authenticate(
        db, token.strip() if scheme.lower() == "bearer" else None, request.headers.get("x-chaser-account")
    )
    await db.commit()  # end the read before the route may call the host daemon
    return who


Principal = Annotated[PrincipalT, Depends(_principal)]


def Requires(scope: str) -> Any:
    """`Annotated[Principal, Requires("sessions.read")]`: a valid key that holds `scope`."""

    async def check(who: Principal) -> PrincipalT:
        who.require(scope)
        return who

    return Depends(check)


def _full_access_check() -> Callable[[PrincipalT], Coroutine[Any, Any, PrincipalT]]:
    async def check(who: Principal) -> PrincipalT:
        who.require_full_access()
        return who

    return check


FullAccess = Annotated[PrincipalT, Depends(_full_access_check())]


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


def _page(
    limit: Annotated[int, Query(ge=1, le=200, description="1 to 200")] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Paging = Annotated[PageParams, Depends(_page)]
