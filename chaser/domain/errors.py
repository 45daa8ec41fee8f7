"""Every error the control plane's rules can raise, named where they happen.

Each class carries a stable wire `code`; the HTTP status for a code lives in exactly one table,
`chaser.api.errors.STATUS_BY_CODE`, so nothing in `domain` or `store` knows about HTTP.

    ChaserError                 internal
    ├── InvalidRequest          invalid_request   the request as a whole makes no sense here
    ├── InvalidField            invalid_field     one field is wrong; the message names it
    ├── Unauthorized            unauthorized      no usable credentials
    ├── Forbidden               forbidden         credentials fine, action not allowed
    │   ├── InsufficientScope   insufficient_scope
    │   └── QuotaExceeded       quota_exceeded    storage quota (workspace or account) would be exceeded
    ├── NotFound                not_found         (subclasses: <thing>_not_found)
    ├── Conflict                conflict          (subclasses: name_taken, workspace_busy, ...)
    ├── TooLarge                too_large
    ├── ConcurrencyLimit        concurrency_limit
    ├── HostUnavailable         host_unavailable  the host daemon could not be reached
    ├── HostFailure             host_error        the host daemon answered with an error
    └── PortUnreachable         port_unreachable  nothing listens on the forwarded port (502)
"""

from __future__ import annotations

from typing import ClassVar


class ChaserError(Exception):
    """Base of every rule violation; `code` is the stable wire code."""

    code: ClassVar[str] = "internal"
    default_message: ClassVar[str] = "internal error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class InvalidRequest(ChaserError):
    """The request cannot be served as a whole (e.g. a feature not available here)."""

    code = "invalid_request"
    default_message = "invalid request"


class InvalidField(ChaserError):
    """One field has a wrong value; the message starts with the field's name."""

    code = "invalid_field"
    default_message = "invalid field"


class Unauthorized(ChaserError):
    """Missing, unknown or revoked credentials."""

    code = "unauthorized"
    default_message = "missing or invalid API key: send `Authorization: Bearer sk_...`"


class Forbidden(ChaserError):
    """The caller is known but may not do this."""

    code = "forbidden"
    default_message = "forbidden"


class InsufficientScope(Forbidden):
    """The key lacks the scope the route needs."""

    code = "insufficient_scope"


class QuotaExceeded(Forbidden):
    """The storage quota (per workspace or per account, real bytes on disk) would be exceeded."""

    code = "quota_exceeded"
    default_message = "storage quota exceeded"


class NotFound(ChaserError):
    """No such thing (or it belongs to another account: existence is never leaked)."""

    code = "not_found"
    default_message = "not found"


class SessionNotFound(NotFound):
    code = "session_not_found"
    default_message = "session not found"


class WorkspaceNotFound(NotFound):
    code = "workspace_not_found"
    default_message = "workspace not found"


class SnapshotNotFound(NotFound):
    code = "snapshot_not_found"
    default_message = "snapshot not found"


class UserNotFound(NotFound):
    code = "user_not_found"
    default_message = "user not found"


class AccountNotFound(NotFound):
    code = "account_not_found"
    default_message = "account not found"


class MemberNotFound(NotFound):
    code = "member_not_found"
    default_message = "member not found"


class KeyNotFound(NotFound):
    code = "key_not_found"
    default_message = "key not found"


class ServiceAccountNotFound(NotFound):
    code = "service_account_not_found"
    default_message = "service account not found"


class FileNotFound(NotFound):
    code = "file_not_found"
    default_message = "file not found"


class CommandNotFound(NotFound):
    """No background command with this id in the session (or its output has expired)."""

    code = "command_not_found"
    default_message = "command not found"


class PtyNotFound(NotFound):
    """No live terminal with this id in the session (exited, or its grace period ran out)."""

    code = "pty_not_found"
    default_message = "terminal not found; it exited or was detached for longer than the grace period"


class Conflict(ChaserError):
    """The request clashes with the current state."""

    code = "conflict"
    default_message = "conflict"


class NameTaken(Conflict):
    code = "name_taken"
    default_message = "name already taken"


class EmailTaken(Conflict):
    code = "email_taken"
    default_message = "a user with this email already exists"


class AlreadyMember(Conflict):
    code = "already_member"
    default_message = "the user is already a member of this account"


class LastOwner(Conflict):
    code = "last_owner"
    default_message = "the last owner of an account can't be removed or demoted"


class WorkspaceBusy(Conflict):
    code = "workspace_busy"
    default_message = "the workspace has a live session"


class SessionNotReady(Conflict):
    code = "session_not_ready"
    default_message = "the session is still being created; retry in a moment"


class SessionNotOpen(Conflict):
    code = "session_not_open"
    default_message = "the session is terminated; create a new one"


class ActiveConnections(Conflict):
    code = "active_connections"
    default_message = "the session has active connections; pass force=true to terminate anyway"


class TooLarge(ChaserError):
    code = "too_large"
    default_message = "request too large"


class ConcurrencyLimit(ChaserError):
    code = "concurrency_limit"
    default_message = "too many concurrent sessions on this host"


class HostUnavailable(ChaserError):
    code = "host_unavailable"
    default_message = "the host daemon is unreachable; retry in a moment"


class HostFailure(ChaserError):
    code = "host_error"
    default_message = "the host daemon failed"


class PortUnreachable(ChaserError):
    """The forwarded port refused the connection: nothing listens on it inside the sandbox."""

    code = "port_unreachable"
    default_message = "nothing is listening on that port inside the session"


def all_error_classes() -> list[type[ChaserError]]:
    """Every error class, depth first (used by the code→status table test)."""
    found: list[type[ChaserError]] = []
    stack: list[type[ChaserError]] = [ChaserError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found
