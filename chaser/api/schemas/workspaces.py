from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from chaser.api.schemas.common import Body
from chaser.store.models import Workspace


class WorkspaceCreate(Body):
    name: str | None = Field(
        default=None, description="1 to 64 chars; auto-generated (`ws-<hex>`) when omitted"
    )
    session_type: str = Field(default="sandbox", description="`sandbox` or `browser`")
    image: str | None = None
    template: bool = False


class WorkspaceRename(Body):
    name: str


class WorkspaceTemplate(Body):
    template: bool


class WorkspaceOut(BaseModel):
    id: str
    name: str
    session_type: str
    status: Literal["idle", "attached"]
    image: str | None
    template: bool
    github_repo: str | None
    source_workspace_id: str | None
    active_session_id: str | None
    last_session_id: str | None
    persistence: Literal["persistent"] = "persistent"
    size_bytes: int | None
    created_at: datetime

    @classmethod
    def of(cls, ws: Workspace, sizes: dict[str, int]) -> WorkspaceOut:
        return cls(
            id=ws.id,
            name=ws.name,
            session_type=ws.session_type,
            status="attached" if ws.active_session_id else "idle",
            image=ws.image,
            template=ws.template,
            github_repo=ws.github_repo,
            source_workspace_id=ws.source_workspace_id,
            active_session_id=ws.active_session_id,
            last_session_id=ws.last_session_id,
            size_bytes=sizes.get(ws.disk_id),
            created_at=ws.created_at,
        )
