from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from chaser.api.schemas.common import Body
from chaser.store.models import Snapshot, Workspace


class WorkspaceCreate(Body):
    name: str | None = Field(
        default=None, description="1 to 64 chars; auto-generated (`ws-<hex>`) when omitted"
    )
    session_type: str | None = Field(
        default=None, description="`sandbox` (default) or `browser`; a clone inherits its source's"
    )
    image: str | None = Field(
        default=None,
        description="Sandbox workspaces: `base` or an OCI reference (`registry/name:tag`, `@sha256:`); "
        "a clone inherits its source's",
    )
    template: bool = False
    clone_from: str | None = Field(
        default=None,
        description="Name or id of a workspace to copy (files and metadata); refused with 409 "
        "`workspace_busy` while it has a live session",
    )


class WorkspaceImport(Body):
    github_repo: str = Field(description="`owner/repo` (under the server's git base URL) or a git URL")
    ref: str | None = Field(default=None, description="Branch, tag or commit; default: the remote's HEAD")
    name: str | None = None
    token: str | None = Field(
        default=None,
        description="For private repositories; sealed at rest (never plain text), never written "
        "into the workspace's `.git/`",
    )
    image: str | None = None


class WorkspaceRename(Body):
    name: str


class WorkspaceTemplate(Body):
    template: bool


class DefaultSet(Body):
    workspace: str | None = Field(description="Name or id; null clears the default")
    session_type: str = Field(default="sandbox", description="`sandbox` or `browser`")


class WorkspaceOut(BaseModel):
    id: str
    name: str
    session_type: str
    status: Literal["idle", "attached", "importing", "import_failed"]
    status_message: str | None = None
    image: str | None
    template: bool
    default: bool = Field(description="The account's default workspace for its session type")
    github_repo: str | None
    github_ref: str | None = None
    source_workspace_id: str | None
    active_session_id: str | None
    last_session_id: str | None
    persistence: Literal["persistent"] = "persistent"
    size_bytes: int | None
    created_at: datetime

    @classmethod
    def of(cls, ws: Workspace, sizes: dict[str, int], defaults: set[str] | None = None) -> WorkspaceOut:
        status: Literal["idle", "attached", "importing", "import_failed"]
        if ws.state in ("importing", "import_failed"):
            status = "importing" if ws.state == "importing" else "import_failed"
        else:
            status = "attached" if ws.active_session_id else "idle"
        return cls(
            id=ws.id,
            name=ws.name,
            session_type=ws.session_type,
            status=status,
            status_message=ws.state_message,
            image=ws.image,
            template=ws.template,
            default=ws.id in (defaults or set()),
            github_repo=ws.github_repo,
            github_ref=ws.github_ref,
            source_workspace_id=ws.source_workspace_id,
            active_session_id=ws.active_session_id,
            last_session_id=ws.last_session_id,
            size_bytes=sizes.get(ws.disk_id),
            created_at=ws.created_at,
        )


class DefaultOut(BaseModel):
    session_type: str
    workspace: WorkspaceOut | None


class SnapshotCreate(Body):
    name: str | None = Field(
        default=None, description="Unique within the workspace (case-insensitive); `snap-<hex>` if omitted"
    )


class SnapshotOut(BaseModel):
    id: str
    name: str
    workspace_id: str
    size_bytes: int | None = Field(description="Real bytes on disk (the host's allocated blocks)")
    created_at: datetime

    @classmethod
    def of(cls, snap: Snapshot) -> SnapshotOut:
        return cls(
            id=snap.id,
            name=snap.name,
            workspace_id=snap.workspace_id,
            size_bytes=snap.size_bytes,
            created_at=snap.created_at,
        )


class SnapshotList(BaseModel):
    data: list[SnapshotOut]
    count: int


class RestoreOut(BaseModel):
    workspace: WorkspaceOut
    snapshot: SnapshotOut
    terminated_session_ids: list[str]
