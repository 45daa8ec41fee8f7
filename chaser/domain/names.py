"""Name rules shared by workspaces and organizations."""

from __future__ import annotations

import re
import secrets
import uuid

from chaser.domain.errors import InvalidField

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
NAME_MAX = 64
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def validate_name(field: str, value: str) -> str:
    """A workspace or organization name: 1 to 64 chars, `[A-Za-z0-9][A-Za-z0-9._-]*`, not a UUID
    (a UUID-looking name would be ambiguous wherever a name-or-id selector is accepted)."""
    if not 1 <= len(value) <= NAME_MAX:
        raise InvalidField(f"{field}: must be 1 to {NAME_MAX} characters")
    if not NAME_RE.fullmatch(value):
        raise InvalidField(
            f"{field}: must start with a letter or digit and contain only letters, digits, '.', '_' or '-'"
        )
    if is_uuid(value):
        raise InvalidField(f"{field}: must not be a UUID (it would be ambiguous with ids)")
    return value


def generate_workspace_name() -> str:
    return f"ws-{secrets.token_hex(4)}"


def validate_email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 320 or not EMAIL_RE.fullmatch(value):
        raise InvalidField("email: must look like name@example.com")
    return value
