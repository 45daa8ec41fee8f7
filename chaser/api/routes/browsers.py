"""Browser sessions: Chromium's state (`GET .../browser`) and extensions (`POST .../extensions`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile

from chaser.api.deps import Db, HostDep, Requires
from chaser.domain import browsers, extensions
from chaser.domain.errors import TooLarge
from chaser.domain.principal import Principal

router = APIRouter(prefix="/v1/sessions", tags=["browsers"])


@router.get("/{session_id}/browser")
async def browser_state(
    session_id: str, who: Annotated[Principal, Requires("sessions.read")], db: Db, host: HostDep
) -> dict[str, Any]:
    """Chromium's supervisor: `running`, `ready`, `pid`, `restarts` (relaunches after a crash),
    `exits` (the last unrequested exits), loaded `extensions`, CDP `version`."""
    return await browsers.status(db, host, who, session_id)


@router.post("/{session_id}/extensions", status_code=201)
async def add_extension(
    session_id: str,
    file: Annotated[
        UploadFile,
        File(
            description="`.zip`, `.tar` or `.tar.gz` of one unpacked extension (at most 16 MiB), "
            "`manifest.json` at the root or under one wrapper folder; symlinks, absolute paths "
            "and `..` are refused. Kept on the workspace disk for persistent sessions."
        ),
    ],
    who: Annotated[Principal, Requires("sessions.write")],
    db: Db,
    host: HostDep,
) -> dict[str, Any]:
    """Unpacks the extension into the browser and restarts Chromium with it loaded."""
    data = await file.read(extensions.MAX_ARCHIVE_BYTES + 1)
    if len(data) > extensions.MAX_ARCHIVE_BYTES:
        raise TooLarge(f"file: at most {extensions.MAX_ARCHIVE_BYTES} bytes per extension archive")
    return await browsers.add_extension(db, host, who, session_id, file.filename or "", data)
