"""Client of one host daemon's internal API, used by the control plane.

Transport failures become `HostUnavailable`; error bodies from the daemon become `HostError` with
the daemon's code, so callers never see httpx exceptions.
"""

from __future__ import annotations

from typing import Any

import httpx

from chaser.host.wire import DiskInfo, DiskSpec, ExecRequest, ExecResult, FileInfo, HostInfo, VmInfo, VmSpec


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
            code, message = "host_error", response.text
            try:
                body = response.json()["error"]
                code, message = body["code"], body["message"]
            except (ValueError, KeyError, TypeError):
                pass
            raise HostError(response.status_code, code, message)
        return response

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
