from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from chaser.api.schemas.common import Body
from chaser.store.models import Session


class SessionCreate(Body):
    session_type: str = Field(default="sandbox", description="`sandbox` or `browser`")
    workspace: str | None = Field(
        default=None, description="Workspace name or id; required unless `ephemeral` is true"
    )
    ephemeral: bool = Field(default=False, description="No workspace; nothing persists")
    image: str | None = Field(
        default=None, description="Ephemeral sandboxes only; persistent ones use the workspace's"
    )
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: int | None = Field(default=None, description="Lifetime limit in seconds, 1 to 86400")
    vcpus: int | None = Field(default=None, description="1 to 4")
    memory_mib: int | None = Field(default=None, description="128 to 8192")
    internet_access: bool = Field(
        default=True, description="Outbound network (NAT); false: the VM reaches nothing outside"
    )


class Endpoints(BaseModel):
    control: str
    video: str | None
    path_style: str
    subdomain_style: str


class SessionOut(BaseModel):
    id: str
    session_type: str
    status: Literal["creating", "running", "terminated"]
    created_at: datetime
    terminated_at: datetime | None
    termination_reason: str | None
    workspace_id: str | None
    persistence: Literal["ephemeral", "persistent"]
    ephemeral: bool
    image: str | None
    endpoints: Endpoints
    active_connection_leases: int
    runtime: str | None
    accel: str | None
    vcpus: int
    memory_mib: int
    internet_access: bool
    timeout_s: int | None

    @classmethod
    def of(cls, s: Session, public_url: str, base_domain: str) -> SessionOut:
        path_style = f"{public_url}/s/{s.id}/"
        control, video = path_style, None
        if s.session_type == "browser":  # CDP and the live view behind the same endpoint
            control = "ws" + path_style.removeprefix("http") + f"devtools/browser/{s.id}"
            video = f"{path_style}live/"
        return cls(
            id=s.id,
            session_type=s.session_type,
            status=s.status,  # type: ignore[arg-type]
            created_at=s.created_at,
            terminated_at=s.terminated_at,
            termination_reason=s.termination_reason,
            workspace_id=s.workspace_id,
            persistence="ephemeral" if s.ephemeral else "persistent",
            ephemeral=s.ephemeral,
            image=s.image,
            endpoints=Endpoints(
                control=control,
                video=video,
                path_style=path_style,
                subdomain_style=f"http://{s.id}.{base_domain}/",
            ),
            active_connection_leases=s.active_connection_leases,
            runtime=s.runtime,
            accel=s.accel,
            vcpus=s.vcpus,
            memory_mib=s.memory_mib,
            internet_access=s.internet_access,
            timeout_s=s.timeout_s,
        )


class BulkTerminate(Body):
    ids: list[str] = Field(default_factory=list)
    workspaces: list[str] = Field(default_factory=list)
    all: bool = False
    session_type: str | None = None
    force: bool = False


class BulkFailure(BaseModel):
    id: str
    code: str
    message: str


class BulkTerminateOut(BaseModel):
    terminated: list[str]
    failed: list[BulkFailure]


class ExecCreate(Body):
    command: str = Field(description="Run by `sh -c`; required, non-empty")
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    stdin: str | None = None
    timeout_ms: int | None = Field(default=None, description="1 to 3600000; default 60000")
    user: str | None = Field(default=None, description="Default `root`")
    background: bool = Field(
        default=False,
        description="Start and return at once (`command_id`); `timeout_ms` does not apply; "
        "read the output from `GET /v1/sessions/{id}/commands/{command_id}/stream`",
    )


class ProvisionedExecCreate(ExecCreate):
    workspace: str | None = Field(
        default=None, description="Run in this workspace's sandbox (reused if live)"
    )
    ephemeral: bool = Field(default=False, description="Run in a new ephemeral sandbox (lives 1 h)")
    image: str | None = Field(default=None, description="Ephemeral only")


class ExecOut(BaseModel):
    session_id: str
    command: str
    kind: Literal["exec"] = "exec"
    status: Literal["completed", "timed_out", "running"]
    background: bool = False
    exit_code: int | None
    output: str
    output_truncated: bool
    command_id: str | None = None
    pid: int | None
    workspace: str | None
    workspace_id: str | None
    ephemeral: bool


class UploadOut(BaseModel):
    path: str
    size: int


class TokenCreate(Body):
    ttl_s: int = Field(default=3600, description="Lifetime in seconds, 60 to 86400")


class TokenUrls(BaseModel):
    path_style: str
    subdomain_style: str


class TokenOut(BaseModel):
    token: str
    expires_at: datetime
    urls: TokenUrls
