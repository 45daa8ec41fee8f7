"""Session tokens: short-lived, HMAC-signed grants to one session's interactive surface.

A token reads `cst_<session_id>.<account_id>.<expiry unix s>.<signature>`; the signature is
HMAC-SHA256 over `<session_id>.<account_id>.<expiry>` with the server's secret (a file in the data
directory, created on first use). It authorizes exactly what `exec.write` authorizes, on that one
session only: the PTY, the gateway (`/forward/...`, `/pty`) and tunnels. It can't list, create or
terminate anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from chaser.domain.auth import authenticate
from chaser.domain.errors import InvalidField, Unauthorized
from chaser.domain.keys import looks_like_key
from chaser.domain.principal import Principal
from chaser.store import accounts as account_store

PREFIX = "cst_"
MIN_TTL_S = 60
MAX_TTL_S = 86_400
DEFAULT_TTL_S = 3_600
SECRET_FILE = "session-token.key"
TOKEN_SCOPES = frozenset({"exec.write"})


def load_secret(data_dir: Path) -> bytes:
    """The signing secret, created (0600) on first use and kept across restarts."""
    path = data_dir / SECRET_FILE
    if path.exists() and path.read_bytes().strip():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    return secret


@dataclass(frozen=True)
class SessionToken:
    session_id: str
    account_id: str
    expires_at: datetime


def _sign(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(secret: bytes, session_id: str, account_id: str, ttl_s: int, now: datetime) -> tuple[str, datetime]:
    if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
        raise InvalidField(f"ttl_s: must be between {MIN_TTL_S} and {MAX_TTL_S} seconds")
    expiry = int(now.timestamp()) + ttl_s
    payload = f"{session_id}.{account_id}.{expiry}"
    return f"{PREFIX}{payload}.{_sign(secret, payload)}", datetime.fromtimestamp(expiry, UTC)


def looks_like_token(value: str) -> bool:
    return value.startswith(PREFIX)


def verify(secret: bytes, token: str, now: datetime) -> SessionToken | None:
    """The token's grant, or None when it is malformed, forged or expired."""
    if not looks_like_token(token):
        return None
    parts = token[len(PREFIX) :].split(".")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    session_id, account_id, expiry, signature = parts
    if not hmac.compare_digest(signature, _sign(secret, f"{session_id}.{account_id}.{expiry}")):
        return None
    expires_at = datetime.fromtimestamp(int(expiry), UTC)
    if expires_at <= now:
        return None
    return SessionToken(session_id, account_id, expires_at)


async def principal_for(
    db: AsyncSession, secret: bytes, credential: str | None, session_id: str, now: datetime
) -> Principal:
    """Whoever a credential names, for `session_id`: an API key (any session of its account) or
    a session token (that session only, as `exec.write`). Failing either way is `unauthorized`."""
    if not credential:
        raise Unauthorized("send `Authorization: Bearer sk_...` or a session token")
    if looks_like_key(credential):
        return await authenticate(db, credential, None)
    grant = verify(secret, credential, now)
    if grant is None or grant.session_id != session_id.lower():
        raise Unauthorized("the session token is invalid, expired or for another session")
    account = await account_store.get(db, grant.account_id)
    if account is None:
        raise Unauthorized("the session token's account no longer exists")
    return Principal(
        key_id=f"token:{grant.session_id}",
        account_id=account.id,
        account_kind=account.kind,
        user_id=None,
        service_account_id=None,
        scopes=TOKEN_SCOPES,
        role=None,
    )
