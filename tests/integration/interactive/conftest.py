"""Fixtures of the interactive suite.

Real sandboxes: the shared `sqlite_server` (tests/integration/conftest.py) and one running
sandbox per module. Relays alone: `relay_server`, the control plane in this process (uvicorn on a
thread) with `fake_host.FakeHostClient` standing in for the host daemon, so the PTY/tunnel/SSE
relays, the gateway and leases are exercised without gVisor.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from chaser.api.app import create_app
from chaser.domain.accounts import create_user
from chaser.domain.host import Host
from chaser.settings import ServerSettings
from chaser.store.models import Session, new_id
from tests.factories import Api, new_email
from tests.integration.interactive.fake_host import FakeHostClient
from tests.integration.postgres import free_port

T = TypeVar("T")


@dataclass
class RelayServer:
    url: str
    port: int
    app: Any
    fake: FakeHostClient
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def user(self) -> Api:
        async def make() -> str:
            async with self.app.state.sessionmaker() as db:
                made = await create_user(db, new_email())
                await db.commit()
                return made.secret

        return Api(self.url, self.run(make()))

    def session(self, api: Api) -> str:
        """A `running` sandbox row for the key's account (no VM: the fake host serves it)."""
        account_id = api.get("/v1/accounts/current").json()["id"]

        async def make() -> str:
            async with self.app.state.sessionmaker() as db:
                s = Session(
                    id=new_id(),
                    account_id=account_id,
                    session_type="sandbox",
                    status="running",
                    ephemeral=True,
                    image="base",
                    env={},
                )
                db.add(s)
                await db.commit()
                return s.id

        return self.run(make())

    def log_tail(self, lines: int = 40) -> str:
        return ""


@pytest.fixture(scope="module")
def relay_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayServer]:
    data_dir: Path = tmp_path_factory.mktemp("relay")
    port = free_port()
    settings = ServerSettings(data_dir=data_dir, port=port)
    app = create_app(settings, host_url="http://127.0.0.1:9", host_token="unused", background=False)
    fake = FakeHostClient()
    app.state.host = Host(client=fake, fast=fake, slow=fake)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fake.start())
        loop.run_until_complete(server.serve())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "in-process server did not start"
        time.sleep(0.05)
    yield RelayServer(f"http://127.0.0.1:{port}", port, app, fake, loop)
    server.should_exit = True
    thread.join(timeout=20)


# -- real sandboxes ---------------------------------------------------------------------------


@dataclass
class Sandbox:
    server: Any  # tests.integration.conftest.Server
    api: Api
    sid: str

    @property
    def ws_base(self) -> str:
        return self.server.url.replace("http://", "ws://", 1)

    def log_tail(self, lines: int = 40) -> str:
        return str(self.server.log_tail(lines))


@pytest.fixture(scope="module")
def sandbox(runtime_module: None, sqlite_server: Any) -> Iterator[Sandbox]:
    """One running ephemeral sandbox shared by a module's tests (its own user)."""
    from tests.factories import create_session, make_user

    api = make_user(sqlite_server).api
    session = create_session(api, ephemeral=True)
    yield Sandbox(sqlite_server, api, session["id"])
    api.delete(f"/v1/sessions/{session['id']}?force=true")
