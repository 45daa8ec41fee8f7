"""Client of one host daemon's internal API, used by the control plane.

Transport failures become `HostUnavailable`; error bodies from the daemon become `HostError` with
the daemon's code, so callers never see httpx exceptions.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from chaser.host.wire import (
    CloneSpec,
    CommandInfo,
    DiskInfo,
    DiskSpec,
    ExecRequest,
    ExecResult,
    FileInfo,
    GitImportResult,
    GitImportSpec,
    HostInfo,
    ImageInfo,
    ImagePull,
    PtyInfo,
    SelfTestResult,
    SnapshotInfo,
    SnapshotSpec,
    VmInfo,
    VmSpec,
)


class HostError(Exception):
    """The host daemon answered with an error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class HostUnavailable(Exception):
    """The host daemon could not be reached (not started, restarting, or crashed)."""


class HostClient:
    def __init__(self, base_url: str, token: str, timeout_s: float = 120.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout_s, connect=5.0),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise HostUnavailable(f"host daemon unreachable: {exc!r}") from exc
        if response.status_code >= 400:
            self._raise_for(response)
        return response

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:
        code, message = "host_error", response.text
        try:
            body = response.json()["error"]
            code, message = body["code"], body["message"]
        except (ValueError, KeyError, TypeError):
            pass
        raise HostError(response.status_code, code, message)

    async def info(self) -> HostInfo:
        return HostInfo.model_validate((await self._request("GET", "/info")).json())

    async def create_vm(self, spec: VmSpec) -> VmInfo:
        return VmInfo.model_validate((await self._request("POST", "/vms", json=spec.model_dump())).json())

    async def list_vms(self) -> list[VmInfo]:
        return [VmInfo.model_validate(v) for v in (await self._request("GET", "/vms")).json()]

    async def get_vm(self, vm_id: str) -> VmInfo:
        return VmInfo.model_validate((await self._request("GET", f"/vms/{vm_id}")).json())

    async def stop_vm(self, vm_id: str) -> None:
        """Destroy the VM and release its disk. Idempotent: an unknown VM is not an error."""
        await self._request("DELETE", f"/vms/{vm_id}")

    async def exec(self, vm_id: str, request: ExecRequest) -> ExecResult:
        response = await self._request("POST", f"/vms/{vm_id}/exec", json=request.model_dump())
        return ExecResult.model_validate(response.json())

    async def write_file(self, vm_id: str, path: str, content: bytes) -> FileInfo:
        response = await self._request("PUT", f"/vms/{vm_id}/files", params={"path": path}, content=content)
        return FileInfo.model_validate(response.json())

    async def read_file(self, vm_id: str, path: str, max_bytes: int) -> bytes:
        response = await self._request(
            "GET", f"/vms/{vm_id}/files", params={"path": path, "max_bytes": max_bytes}
        )
        return response.content

    async def create_disk(self, spec: DiskSpec) -> DiskInfo:
        return DiskInfo.model_validate((await self._request("POST", "/disks", json=spec.model_dump())).json())

    async def get_disk(self, disk_id: str) -> DiskInfo:
        return DiskInfo.model_validate((await self._request("GET", f"/disks/{disk_id}")).json())

    async def list_disks(self) -> list[DiskInfo]:
        return [DiskInfo.model_validate(d) for d in (await self._request("GET", "/disks")).json()]

    async def delete_disk(self, disk_id: str) -> None:
        """Delete the disk file. Idempotent. Refused with `disk_busy` while a VM has it attached."""
        await self._request("DELETE", f"/disks/{disk_id}")

    # ---- workspace storage: snapshots, clones, git import (chaser.host.storage)

    async def create_snapshot(self, disk_id: str, snapshot_id: str, force: bool = False) -> SnapshotInfo:
        """Copy the disk as it is now. Attached to a VM: `disk_busy` unless `force` (freezes it)."""
        spec = SnapshotSpec(snapshot_id=snapshot_id, force=force)
        response = await self._request("POST", f"/disks/{disk_id}/snapshots", json=spec.model_dump())
        return SnapshotInfo.model_validate(response.json())

    async def list_snapshots(self, disk_id: str) -> list[SnapshotInfo]:
        response = await self._request("GET", f"/disks/{disk_id}/snapshots")
        return [SnapshotInfo.model_validate(s) for s in response.json()]

    async def get_snapshot(self, disk_id: str, snapshot_id: str) -> SnapshotInfo:
        response = await self._request("GET", f"/disks/{disk_id}/snapshots/{snapshot_id}")
        return SnapshotInfo.model_validate(response.json())

    async def restore_snapshot(self, disk_id: str, snapshot_id: str) -> DiskInfo:
        """Put the snapshot back as the disk's content. The disk must be detached (`disk_busy`)."""
        response = await self._request("POST", f"/disks/{disk_id}/snapshots/{snapshot_id}/restore")
        return DiskInfo.model_validate(response.json())

    async def delete_snapshot(self, disk_id: str, snapshot_id: str) -> None:
        """Idempotent."""
        await self._request("DELETE", f"/disks/{disk_id}/snapshots/{snapshot_id}")

    async def clone_disk(self, disk_id: str, new_disk_id: str, force: bool = False) -> DiskInfo:
        """A new independent disk with the same files. Attached source: `disk_busy` unless `force`."""
        spec = CloneSpec(disk_id=new_disk_id, force=force)
        response = await self._request("POST", f"/disks/{disk_id}/clone", json=spec.model_dump())
        return DiskInfo.model_validate(response.json())

    async def import_git(
        self, disk_id: str, url: str, ref: str | None = None, token: str | None = None
    ) -> GitImportResult:
        """Clone `url` (owner/repo or a URL) into the detached disk's root. `import_failed` (400)
        carries git's message, token redacted."""
        spec = GitImportSpec(url=url, ref=ref, token=token)
        response = await self._request("POST", f"/disks/{disk_id}/import-git", json=spec.model_dump())
        return GitImportResult.model_validate(response.json())

    async def pull_image(self, image: str) -> ImageInfo:
        """Pull and unpack an OCI image (registry reference, OCI layout dir or .tar) once, by digest."""
        response = await self._request("POST", "/images/pull", json=ImagePull(image=image).model_dump())
        return ImageInfo.model_validate(response.json())

    # ---- interactive surface (docs/host-streams.md)

    def _ws_url(self, path: str, params: dict[str, Any] | None = None) -> str:
        url = self._http.base_url.copy_with(path=self._http.base_url.path.rstrip("/") + path)
        if params:
            url = url.copy_merge_params({k: v for k, v in params.items() if v is not None})
        return str(url).replace("http://", "ws://", 1).replace("https://", "wss://", 1)

    @contextlib.asynccontextmanager
    async def _websocket(
        self, path: str, params: dict[str, Any] | None = None, *, raw: bool = False
    ) -> AsyncIterator[ClientConnection]:
        """`raw`: a bulk byte tunnel; no per-message deflate (compressing every message on both
        ends cost more than the relay itself: ~30 MB/s), and a larger write buffer."""
        url = self._ws_url(path, params)
        try:
            connection = await ws_connect(
                url,
                additional_headers={"Authorization": self._http.headers["Authorization"]},
                max_size=None,
                open_timeout=10,
                compression=None if raw else "deflate",
                write_limit=(1 << 20) if raw else 32 * 1024,
            )
        except (OSError, TimeoutError, websockets.exceptions.InvalidHandshake) as exc:
            raise HostUnavailable(f"host daemon unreachable: {exc!r}") from exc
        try:
            yield connection
        finally:
            await connection.close()

    def pty_connect(
        self,
        vm_id: str,
        *,
        mode: str = "human",
        cols: int | None = None,
        rows: int | None = None,
        command: str | None = None,
        cwd: str | None = None,
        user: str | None = None,
        pty_id: str | None = None,
    ) -> contextlib.AbstractAsyncContextManager[ClientConnection]:
        """`async with client.pty_connect(vm_id) as ws:` — the first text message is
        {"type": "pty", "pty_id", "pid", "replayed"}; then binary = terminal bytes both ways, text
        {"type": "resize", "cols", "rows"} from the client, {"type": "exit", "code"} at the end.
        cols/rows default to 80x24 for a new terminal; with `pty_id` they resize it on reattach.
        A socket that cannot be served closes with 4000 + HTTP status (4404, 4409, 4400, ...)."""
        params: dict[str, Any] = {"pty_id": pty_id, "cwd": cwd, "user": user, "cols": cols, "rows": rows}
        if pty_id is None:
            params.update(mode=mode, command=command)
        return self._websocket(f"/vms/{vm_id}/pty", params)

    def port_tunnel(self, vm_id: str, port: int) -> contextlib.AbstractAsyncContextManager[ClientConnection]:
        """A byte tunnel to 127.0.0.1:<port> in the VM: binary messages both ways. Refused → close 4502."""
        return self._websocket(f"/vms/{vm_id}/ports/{port}", raw=True)

    async def list_ptys(self, vm_id: str) -> list[PtyInfo]:
        return [PtyInfo.model_validate(p) for p in (await self._request("GET", f"/vms/{vm_id}/ptys")).json()]

    async def resize_pty(self, vm_id: str, pty_id: str, cols: int, rows: int) -> PtyInfo:
        response = await self._request(
            "POST", f"/vms/{vm_id}/ptys/{pty_id}/resize", json={"cols": cols, "rows": rows}
        )
        return PtyInfo.model_validate(response.json())

    async def start_command(self, vm_id: str, request: ExecRequest) -> CommandInfo:
        """Start a background command; returns at once (status `running`)."""
        response = await self._request("POST", f"/vms/{vm_id}/commands", json=request.model_dump())
        return CommandInfo.model_validate(response.json())

    async def list_commands(self, vm_id: str) -> list[CommandInfo]:
        return [
            CommandInfo.model_validate(c)
            for c in (await self._request("GET", f"/vms/{vm_id}/commands")).json()
        ]

    async def get_command(self, vm_id: str, command_id: str) -> CommandInfo:
        response = await self._request("GET", f"/vms/{vm_id}/commands/{command_id}")
        return CommandInfo.model_validate(response.json())

    async def command_events(
        self, vm_id: str, command_id: str, after: int = 0
    ) -> AsyncIterator[dict[str, Any]]:
        """Events with seq > `after`: {"seq", "type": "stdout"|"stderr", "data"}, maybe
        {"type": "dropped", "count"}, and finally {"type": "exit", "exit_code"}. The iterator ends
        after exit, or early if the host's link to the agent dropped (resume with the last seq)."""
        path = f"/vms/{vm_id}/commands/{command_id}/events"
        try:
            async with self._http.stream("GET", path, params={"after": after}, timeout=None) as response:
                if response.status_code >= 400:
                    await response.aread()
                    self._raise_for(response)
                async for line in response.aiter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.TransportError as exc:
            raise HostUnavailable(f"host daemon unreachable: {exc!r}") from exc

    async def command_stdin(
        self, vm_id: str, command_id: str, data: str = "", eof: bool = False
    ) -> CommandInfo:
        response = await self._request(
            "POST", f"/vms/{vm_id}/commands/{command_id}/stdin", json={"data": data, "eof": eof}
        )
        return CommandInfo.model_validate(response.json())

    async def kill_command(self, vm_id: str, command_id: str, signal: str | int = "TERM") -> CommandInfo:
        response = await self._request(
            "POST", f"/vms/{vm_id}/commands/{command_id}/kill", json={"signal": signal}
        )
        return CommandInfo.model_validate(response.json())

    async def self_test(self, vm_id: str) -> SelfTestResult:
        return SelfTestResult.model_validate((await self._request("POST", f"/vms/{vm_id}/self-test")).json())

    async def browser_status(self, vm_id: str) -> dict[str, Any]:
        """The guest's Chromium supervisor: running, ready, pid, restarts, recent exits, extensions."""
        body: dict[str, Any] = (await self._request("GET", f"/vms/{vm_id}/browser")).json()
        return body

    async def add_browser_extension(self, vm_id: str, name: str, tar: bytes) -> dict[str, Any]:
        """Unpack an extension (a tar of its folder) and restart Chromium with it loaded."""
        response = await self._request("PUT", f"/vms/{vm_id}/browser/extensions/{name}", content=tar)
        body: dict[str, Any] = response.json()
        return body
