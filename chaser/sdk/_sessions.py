"""Sessions: create, list, get, terminate, bulk-terminate, session tokens, resize, self-test."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaser.sdk._http import Http

__all__ = ["AsyncSessions"]

Json = dict[str, Any]


class AsyncSessions:
    """`client.sessions`: one running sandbox (or browser) each."""

    def __init__(self, http: Http) -> None:
        self._http = http

    async def create(
        self,
        *,
        session_type: str = "sandbox",
        workspace: str | None = None,
        ephemeral: bool | None = None,
        image: str | None = None,
        env: dict[str, str] | None = None,
        timeout_s: int | None = None,
        vcpus: int | None = None,
        memory_mib: int | None = None,
        internet_access: bool | None = None,
    ) -> Json:
        """A new session (or the live one of `workspace`). Without `workspace`, `ephemeral`
        defaults to true here: the SDK never creates a persistent session by accident.
        `internet_access=False` shuts the VM's way out (the server's default is open)."""
        if ephemeral is None:
            ephemeral = workspace is None
        body: Json = {"session_type": session_type, "ephemeral": ephemeral}
        for key, value in (
            ("workspace", workspace),
            ("image", image),
            ("env", env),
            ("timeout_s", timeout_s),
            ("vcpus", vcpus),
            ("memory_mib", memory_mib),
            ("internet_access", internet_access),
        ):
            if value is not None:
                body[key] = value
        result: Json = await self._http.request("POST", "/v1/sessions", json_body=body)
        return result

    async def list(
        self,
        *,
        status: str | None = None,
        session_type: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Json:
        """One page: `{"data": [SessionInfo], "count", "limit", "offset"}`."""
        params = {"status": status, "session_type": session_type, "limit": limit, "offset": offset}
        result: Json = await self._http.request("GET", "/v1/sessions", params=params)
        return result

    async def get(self, session_id: str) -> Json:
        result: Json = await self._http.request("GET", f"/v1/sessions/{session_id}")
        return result

    async def terminate(self, session_id: str, *, force: bool = False) -> Json:
        """Destroys the VM; with open connections and no `force` → `Conflict` (`active_connections`)."""
        params = {"force": True} if force else None
        result: Json = await self._http.request("DELETE", f"/v1/sessions/{session_id}", params=params)
        return result

    async def bulk_terminate(
        self,
        *,
        ids: Sequence[str] | None = None,
        workspaces: Sequence[str] | None = None,
        all: bool = False,
        session_type: str | None = None,
        force: bool = False,
    ) -> Json:
        """`{"terminated": [ids], "failed": [{"id", "code", "message"}]}`."""
        body: Json = {"ids": [*(ids or [])], "workspaces": [*(workspaces or [])], "all": all, "force": force}
        if session_type is not None:
            body["session_type"] = session_type
        result: Json = await self._http.request("POST", "/v1/sessions/bulk-terminate", json_body=body)
        return result

    async def token(self, session_id: str, *, ttl_s: int = 3600) -> Json:
        """A session token for the gateway: `{"token", "expires_at", "urls": {...}}`."""
        result: Json = await self._http.request(
            "POST", f"/v1/sessions/{session_id}/token", json_body={"ttl_s": ttl_s}
        )
        return result

    async def resize(self, session_id: str, cols: int, rows: int, *, pty_id: str | None = None) -> Json:
        body: Json = {"cols": cols, "rows": rows}
        if pty_id is not None:
            body["pty_id"] = pty_id
        result: Json = await self._http.request("POST", f"/v1/sessions/{session_id}/resize", json_body=body)
        return result

    async def self_test(self, session_id: str) -> Json:
        """Working directory, PATH, detected tools, shell, markers, agent version."""
        result: Json = await self._http.request("POST", f"/v1/sessions/{session_id}/self-test")
        return result
