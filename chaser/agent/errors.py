"""Errors an op ends with; `code` travels in the CLOSE frame and becomes the host's error code."""

from __future__ import annotations


class OpError(Exception):
    code = "agent_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class BadRequest(OpError):
    code = "bad_request"


class FileNotFound(OpError):
    code = "file_not_found"


class IsADirectory(OpError):
    code = "is_a_directory"


class NotADirectory(OpError):
    code = "not_a_directory"


class TooLarge(OpError):
    code = "too_large"


class PermissionDenied(OpError):
    code = "permission_denied"


class UnknownUser(OpError):
    code = "unknown_user"


class Cancelled(OpError):
    code = "cancelled"
