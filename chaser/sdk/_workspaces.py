"""Workspaces (named persistent disks) and API keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaser.sdk._http import Http

__all__ = ["AsyncKeys", "AsyncWorkspaces"]

Json = dict[str, Any]


class AsyncWorkspaces:
    """`client.workspaces`: `{ws}` is a name (case-insensitive) or an id everywhere."""

    def __init__(self, http: Http) -> None:
        self._http = http

    async def create(
        self,
        *,
        name: str | None = None,
        session_type: str | None = None,
        image: str | None = None,
        template: bool | None = None,
        clone_from: str | None = None,
    ) -> Json:
        body: Json = {}
        for key, value in (
            ("name", name),
            ("session_type", session_type),
            ("image", image),
            ("template", template),
            ("clone_from", clone_from),
        ):
            if value is not None:
                body[key] = value
        result: Json = await self._http.request("POST", "/v1/workspaces", json_body=body)
        return result

    async def list(self, *, limit: int | None = None, offset: int | None = None) -> Json:
        result: Json = await self._http.request(
            "GET", "/v1/workspaces", params={"limit": limit, "offset": offset}
        )
        return result

    async def get(self, workspace: str) -> Json:
        result: Json = await self._http.request("GET", f"/v1/workspaces/{workspace}")
        return result

    async def rename(self, workspace: str, name: str) -> Json:
        result: Json = await self._http.request(
            "PUT", f"/v1/workspaces/{workspace}/name", json_body={"name": name}
        )
        return result

    async def delete(self, workspace: str, *, force: bool = False) -> Json:
        params = {"force": True} if force else None
        result: Json = await self._http.request("DELETE", f"/v1/workspaces/{workspace}", params=params)
        return result


class AsyncKeys:
    """`client.keys`: API keys of the calling user in the active account."""

    def __init__(self, http: Http) -> None:
        self._http = http

    async def create(self, *, name: str | None = None, scopes: Sequence[str] | None = None) -> Json:
        """The full secret is in `key`, shown only this once."""
        body: Json = {}
        if name is not None:
            body["name"] = name
        if scopes is not None:
            body["scopes"] = [*scopes]
        result: Json = await self._http.request("POST", "/v1/keys", json_body=body)
        return result

    async def list(self, *, limit: int | None = None, offset: int | None = None) -> Json:
        result: Json = await self._http.request("GET", "/v1/keys", params={"limit": limit, "offset": offset})
        return result

    async def revoke(self, key_id: str) -> Json:
        result: Json = await self._http.request("DELETE", f"/v1/keys/{key_id}")
        return result
