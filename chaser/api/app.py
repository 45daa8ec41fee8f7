"""`create_app(settings)`: the control plane's FastAPI application. No global app.

Start-up (lifespan): migrate the database, terminate sessions a previous process left
`creating`, then reconcile with the host every `reconcile_interval_s` in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from chaser.api import errors
from chaser.api.gateway import Gateway
from chaser.api.middleware import RequestContext
from chaser.api.routes import (
    accounts,
    browsers,
    commands,
    exec,
    files,
    health,
    keys,
    members,
    service_accounts,
    sessions,
    snapshots,
    terminals,
    tunnels,
    workspaces,
)
from chaser.domain import imports, reconcile, tokens
from chaser.domain.host import Host
from chaser.domain.leases import Leases
from chaser.domain.quotas import StoragePolicy
from chaser.settings import ServerSettings
from chaser.store.db import make_engine, make_sessionmaker
from chaser.store.migrate import migrate

log = logging.getLogger("chaser.api")


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name.rstrip('_')}"


def host_target(settings: ServerSettings) -> tuple[str, str]:
    """Where the host daemon listens and its token: `CHASER_HOST_URL` / `CHASER_HOST_TOKEN`,
    else the token file `chaser server` writes into the data directory."""
    url = os.environ.get("CHASER_HOST_URL", "http://127.0.0.1:8001")
    token = os.environ.get("CHASER_HOST_TOKEN", "")
    token_file = settings.data_dir / "host" / "token"
    if not token and token_file.exists():
        token = token_file.read_text().strip()
    return url, token


def create_app(
    settings: ServerSettings,
    *,
    host_url: str | None = None,
    host_token: str | None = None,
    background: bool = True,
) -> FastAPI:
    default_url, default_token = host_target(settings)
    engine = make_engine(settings.resolved_database_url())
    host = Host.connect(host_url or default_url, host_token if host_token is not None else default_token)
    sessionmaker = make_sessionmaker(engine)
    leases = Leases(sessionmaker)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(engine)
        tasks: list[asyncio.Task[None]] = []
        if background:
            try:
                recovered = await reconcile.recover_interrupted(sessionmaker, host)
                if recovered:
                    log.warning("terminated %d session(s) interrupted while creating", recovered)
                interrupted = await imports.recover_interrupted(sessionmaker)
                if interrupted:
                    log.warning(
                        "marked %d workspace import(s) interrupted by a restart as failed", interrupted
                    )
                reaped = await leases.reap_dead_holders()
                if reaped:
                    log.warning("released %d connection lease(s) of a previous server process", reaped)
            except Exception:
                log.exception("start-up recovery failed")
            tasks.append(
                asyncio.create_task(
                    reconcile.run_forever(sessionmaker, host, settings.reconcile_interval_s, leases)
                )
            )
            tasks.append(asyncio.create_task(leases.heartbeat_forever()))
        try:
            yield
        finally:
            for task in [*tasks, *app.state.background_tasks]:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await host.aclose()
            await engine.dispose()

    app = FastAPI(
        title="Chaser",
        version="0.1.0",
        description="Sessions as microVMs: sandboxes and browsers, ephemeral or on persistent workspaces.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.host = host
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.leases = leases
    app.state.token_secret = tokens.load_secret(settings.data_dir)
    app.state.storage_policy = StoragePolicy(
        disk_size_bytes=settings.workspace_size_bytes,
        workspace_quota_bytes=settings.workspace_quota_bytes,
        account_quota_bytes=settings.account_quota_bytes,
        git_base_url=settings.git_base_url,
        seal_secret=app.state.token_secret,
    )
    app.state.background_tasks = set()  # imports in flight (held so they are not collected)
    errors.install(app)
    app.add_middleware(RequestContext)
    app.add_middleware(Gateway)  # outermost: forwarded bodies skip the API's body limits
    for module in (
        health,
        sessions,
        exec,
        commands,
        terminals,
        tunnels,
        files,
        workspaces,
        snapshots,
        accounts,
        members,
        service_accounts,
        keys,
        browsers,
    ):
        app.include_router(module.router)
    return app
