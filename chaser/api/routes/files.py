from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response

from chaser.api.deps import Db, HostDep, Requires
from chaser.api.schemas.sessions import UploadOut
from chaser.domain import session_io
from chaser.domain.errors import TooLarge
from chaser.domain.principal import Principal

router = APIRouter(prefix="/v1/sessions", tags=["files"])


@router.post("/{session_id}/upload")
async def upload(
    session_id: str,
    path: Annotated[str, Form(description="Absolute destination path inside the sandbox")],
    file: Annotated[UploadFile, File(description="At most 16 MiB")],
    who: Annotated[Principal, Requires("files.write")],
    db: Db,
    host: HostDep,
) -> UploadOut:
    content = await file.read(session_io.MAX_FILE_BYTES + 1)
    if len(content) > session_io.MAX_FILE_BYTES:
        raise TooLarge(f"file: at most {session_io.MAX_FILE_BYTES} bytes per upload")
    info = await session_io.upload(db, host, who, session_id, path, content)
    return UploadOut(path=info.path, size=info.size)


@router.get(
    "/{session_id}/download",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes"}},
)
async def download(
    session_id: str,
    path: Annotated[str, Query(description="Absolute path of a file inside the sandbox")],
    who: Annotated[Principal, Requires("files.read")],
    db: Db,
    host: HostDep,
) -> Response:
    data = await session_io.download(db, host, who, session_id, path)
    return Response(content=data, media_type="application/octet-stream")
