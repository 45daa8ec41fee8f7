"""Workspace storage in the SDK: templates, imports, the default workspace and snapshots.

`AsyncWorkspaces` here extends the base class in `_workspaces` (the client uses this one), so
`client.workspaces` has every workspace method. Snapshot methods are flat (`snapshot_create`,
...) because the synchronous face wraps one object per attribute.
"""

from __future__ import annotations

from typing import Any

from chaser.sdk._workspaces import AsyncWorkspaces as _BaseWorkspaces

__all__ = ["AsyncWorkspaces"]

Json = dict[str, Any]


class AsyncWorkspaces(_BaseWorkspaces):
    async def set_template(self, workspace: str, template: bool) -> Json:
        result: Json = await self._http.request(
            "PUT", f"/v1/workspaces/{workspace}/template", json_body={"template": template}
        )
        return result

    async def import_(
        self,
        github_repo: str,
        *,
        ref: str | None = None,
        name: str | None = None,
        token: str | None = None,
        image: str | None = None,
    ) -> Json:
        """Starts the import; the workspace comes back `importing` (poll `get` until it is not)."""
        body: Json = {"github_repo": github_repo}
        for key, value in (("ref", ref), ("name", name), ("token", token), ("image", image)):
            if value is not None:
                body[key] = value
        result: Json = await self._http.request("POST", "/v1/workspaces/import", json_body=body)
        return result

    async def set_default(self, workspace: str | None, *, session_type: str = "sandbox") -> Json:
        """`workspace=None` clears the default."""
        result: Json = await self._http.request(
            "PUT", "/v1/workspaces/default", json_body={"workspace": workspace, "session_type": session_type}
        )
        return result

    async def snapshot_create(self, workspace: str, name: str | None = None, *, force: bool = False) -> Json:
        body: Json = {"name": name} if name is not None else {}
        result: Json = await self._http.request(
            "POST",
            f"/v1/workspaces/{workspace}/snapshots",
            json_body=body,
            params={"force": True} if force else None,
        )
        return result

    async def snapshot_list(self, workspace: str) -> Json:
        result: Json = await self._http.request("GET", f"/v1/workspaces/{workspace}/snapshots")
        return result

    async def snapshot_restore(self, workspace: str, snapshot: str, *, force: bool = False) -> Json:
        result: Json = await self._http.request(
            "POST",
            f"/v1/workspaces/{workspace}/snapshots/{snapshot}/restore",
            params={"force": True} if force else None,
        )
        return result

    async def snapshot_delete(self, workspace: str, snapshot: str) -> Json:
        result: Json = await self._http.request("DELETE", f"/v1/workspaces/{workspace}/snapshots/{snapshot}")
        return result
