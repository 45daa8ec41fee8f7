from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from chaser.api.schemas.common import Body


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromtimestamp(float(value), UTC)


class CommandOut(BaseModel):
    command_id: str
    pid: int | None
    command: str
    status: Literal["running", "exited", "killed"]
    exit_code: int | None
    started_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def of(cls, info: Any) -> CommandOut:
        return cls(
            command_id=info.command_id,
            pid=info.pid,
            command=info.command,
            status=str(info.status),  # type: ignore[arg-type]
            exit_code=info.exit_code,
            started_at=_when(info.started_at),
            ended_at=_when(info.ended_at),
        )


class CommandList(BaseModel):
    data: list[CommandOut]
    count: int


class StdinIn(Body):
    data: str = Field(default="", description="Text written to the command's stdin")
    eof: bool = Field(default=False, description="Close stdin after writing `data`")


class KillIn(Body):
    signal: str | int = Field(
        default="TERM", description="TERM (default), KILL, INT, HUP, QUIT, USR1, USR2, STOP, CONT or a number"
    )
