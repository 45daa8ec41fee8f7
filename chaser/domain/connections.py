"""Who may open a stream into a session (PTY socket, gateway request, tunnel), and whether the
session can take it now. Credentials are an API key holding `exec.write` or a session token for
that session (`chaser.domain.tokens`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.errors import InvalidField
from chaser.domain.principal import Principal
from chaser.domain.session_io import open_sandbox
from chaser.domain.tokens import principal_for
from chaser.store.models import Session, utcnow

SCOPE = "exec.write"


async def authorize(
    db: AsyncSession, secret: bytes, credential: str | None, session_id: str
) -> tuple[Principal, Session]:
    """The caller and its running sandbox; raises `unauthorized`, `insufficient_scope`,
    `session_not_found`, `session_not_ready` or `session_not_open`."""
    who = await principal_for(db, secret, credential, session_id, utcnow())
    who.require(SCOPE)
    s = await open_sandbox(db, who, session_id)
    await db.commit()  # the stream lives long: hold no transaction
    return who, s


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise InvalidField("port: must be between 1 and 65535")
