"""`AsyncClient`, the one implementation, and `Client`, its synchronous face.

`Client` runs an `AsyncClient` on a private event loop in a background thread and forwards every
call to it: coroutines are awaited there, async iterators become plain iterators, and the SDK's
own objects (resources, terminals, tunnels) come back wrapped the same way. So both surfaces share
every line of request logic and the same fakes test both."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any

import httpx

from chaser.sdk._exec import AsyncCommands, exec_body
from chaser.sdk._files import AsyncFiles
from chaser.sdk._http import Config, Http
from chaser.sdk._pty import AsyncPty, AsyncTunnel
from chaser.sdk._sessions import AsyncSessions
from chaser.sdk._workspaces import AsyncKeys
from chaser.sdk._workspaces_extra import AsyncWorkspaces

__all__ = ["AsyncClient", "Client"]

Json = dict[str, Any]


class AsyncClient:
    """The Chaser API, async. Configuration comes from the arguments, else `CHASER_API_URL`
    (default `http://127.0.0.1:8000`), `CHASER_API_KEY` and `CHASER_ACCOUNT`.

        async with AsyncClient() as chaser:
            box = await chaser.sessions.create()
            print((await chaser.exec(box["id"], "echo hi"))["output"])
    """

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str | None = None,
        account: str | None = None,
        *,
        timeout_s: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = Config.resolve(api_url, api_key, account, timeout_s)
        self._http = Http(self.config, transport)
        self.sessions = AsyncSessions(self._http)
        self.commands = AsyncCommands(self._http)
        self.files = AsyncFiles(self._http)
        self.workspaces = AsyncWorkspaces(self._http)
        self.keys = AsyncKeys(self._http)

    async def exec(
        self,
        session_id: str,
        command: str,
        *,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        timeout_ms: int | None = None,
        user: str | None = None,
        background: bool = False,
    ) -> Json:
        """Runs `command` (by `sh -c`) to completion: `{"exit_code", "output", "status", ...}`.
        With `background=True` it returns at once with `command_id` (see `commands.stream`)."""
        body = exec_body(
            command, cwd=cwd, env=env, stdin=stdin, timeout_ms=timeout_ms, user=user, background=background
        )
        result: Json = await self._http.request(
            "POST", f"/v1/sessions/{session_id}/exec", json_body=body, timeout_s=_exec_timeout(timeout_ms)
        )
        return result

    async def run(
        self,
        command: str,
        *,
        workspace: str | None = None,
        ephemeral: bool | None = None,
        image: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        timeout_ms: int | None = None,
        user: str | None = None,
    ) -> Json:
        """`POST /v1/exec`: provisions (or reuses) a sandbox, then runs the command; the answer's
        `session_id` names the sandbox."""
        body = exec_body(command, cwd=cwd, env=env, stdin=stdin, timeout_ms=timeout_ms, user=user)
        if workspace is not None:
            body["workspace"] = workspace
        if ephemeral is not None:
            body["ephemeral"] = ephemeral
        if image is not None:
            body["image"] = image
        result: Json = await self._http.request(
            "POST", "/v1/exec", json_body=body, timeout_s=_exec_timeout(timeout_ms)
        )
        return result

    async def upload(self, session_id: str, remote_path: str, source: Any, **kwargs: Any) -> Json:
        """Shortcut for `files.upload`."""
        return await self.files.upload(session_id, remote_path, source, **kwargs)

    async def download(self, session_id: str, remote_path: str, **kwargs: Any) -> bytes:
        """Shortcut for `files.download`."""
        return await self.files.download(session_id, remote_path, **kwargs)

    async def self_test(self, session_id: str) -> Json:
        return await self.sessions.self_test(session_id)

    async def pty(
        self,
        session_id: str,
        *,
        mode: str = "human",
        cols: int = 80,
        rows: int = 24,
        command: str | None = None,
        pty_id: str | None = None,
    ) -> AsyncPty:
        """Opens a terminal: `human` (login shell), `agent` (plain bash, no prompts) or `exec`
        (runs `command` under a pty and reports its exit code). `pty_id` reattaches."""
        return await AsyncPty.connect(
            self.config, session_id, mode=mode, cols=cols, rows=rows, command=command, pty_id=pty_id
        )

    async def tunnel(self, session_id: str, port: int) -> AsyncTunnel:
        """One raw TCP connection to `127.0.0.1:port` inside the sandbox."""
        return await AsyncTunnel.connect(self.config, session_id, port)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _exec_timeout(timeout_ms: int | None) -> float:
    """The HTTP read timeout for a command: its own limit (default 60 s) plus slack."""
    return (timeout_ms or 60_000) / 1000 + 60


class _Loop:
    """A private event loop in a daemon thread; `run` submits a coroutine and waits for it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="chaser-sdk", daemon=True)
        self._thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


_WRAPPED = (AsyncSessions, AsyncCommands, AsyncFiles, AsyncWorkspaces, AsyncKeys, AsyncPty, AsyncTunnel)


class _Sync:
    """The synchronous face of one async SDK object (same attributes and methods, blocking)."""

    def __init__(self, target: Any, loop: _Loop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, _WRAPPED):
            return _Sync(value, self._loop)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            if inspect.isawaitable(result):
                result = self._loop.run(_await(result))
            if inspect.isasyncgen(result) or isinstance(result, AsyncIterator):
                return _iterate(result, self._loop)
            if isinstance(result, _WRAPPED):
                return _Sync(result, self._loop)
            return result

        call.__doc__ = value.__doc__
        call.__name__ = name
        return call

    def __iter__(self) -> Iterator[Any]:
        return _iterate(self._target.__aiter__(), self._loop)

    def __enter__(self) -> _Sync:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        close = getattr(self._target, "close", None)
        if close is not None:
            self._loop.run(_await(close()))

    def __repr__(self) -> str:
        return f"<sync {self._target!r}>"


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _iterate(agen: Any, loop: _Loop) -> Iterator[Any]:
    while True:
        try:
            yield loop.run(agen.__anext__())
        except StopAsyncIteration:
            return


class Client:
    """The Chaser API, synchronous: the same methods as `AsyncClient`, blocking.

    with Client() as chaser:
        box = chaser.sessions.create()
        print(chaser.exec(box["id"], "echo hi")["output"])
    """

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str | None = None,
        account: str | None = None,
        *,
        timeout_s: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._loop = _Loop()
        # The httpx client must be created on the loop that will use it.
        self._async: AsyncClient = self._loop.run(_make(api_url, api_key, account, timeout_s, transport))
        self.config = self._async.config
        self.sessions: Any = _Sync(self._async.sessions, self._loop)
        self.commands: Any = _Sync(self._async.commands, self._loop)
        self.files: Any = _Sync(self._async.files, self._loop)
        self.workspaces: Any = _Sync(self._async.workspaces, self._loop)
        self.keys: Any = _Sync(self._async.keys, self._loop)
        self._proxy = _Sync(self._async, self._loop)

    def exec(self, session_id: str, command: str, **kwargs: Any) -> Json:
        """See `AsyncClient.exec`."""
        result: Json = self._loop.run(self._async.exec(session_id, command, **kwargs))
        return result

    def run(self, command: str, **kwargs: Any) -> Json:
        """See `AsyncClient.run`."""
        result: Json = self._loop.run(self._async.run(command, **kwargs))
        return result

    def upload(self, session_id: str, remote_path: str, source: Any, **kwargs: Any) -> Json:
        result: Json = self._loop.run(self._async.upload(session_id, remote_path, source, **kwargs))
        return result

    def download(self, session_id: str, remote_path: str, **kwargs: Any) -> bytes:
        result: bytes = self._loop.run(self._async.download(session_id, remote_path, **kwargs))
        return result

    def self_test(self, session_id: str) -> Json:
        result: Json = self._loop.run(self._async.self_test(session_id))
        return result

    def pty(self, session_id: str, **kwargs: Any) -> Any:
        """See `AsyncClient.pty`; the terminal's methods block and iterating it yields bytes."""
        return _Sync(self._loop.run(self._async.pty(session_id, **kwargs)), self._loop)

    def tunnel(self, session_id: str, port: int) -> Any:
        return _Sync(self._loop.run(self._async.tunnel(session_id, port)), self._loop)

    def close(self) -> None:
        try:
            self._loop.run(self._async.aclose())
        finally:
            self._loop.stop()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


async def _make(
    api_url: str | None,
    api_key: str | None,
    account: str | None,
    timeout_s: float | None,
    transport: httpx.AsyncBaseTransport | None,
) -> AsyncClient:
    return AsyncClient(api_url, api_key, account, timeout_s=timeout_s, transport=transport)
