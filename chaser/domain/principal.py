"""Who is calling: an API key, the account it acts in, and what it may do."""

from __future__ import annotations

from dataclasses import dataclass

from chaser.domain.errors import Forbidden, InsufficientScope


@dataclass(frozen=True)
class Principal:
    key_id: str
    account_id: str
    account_kind: str  # personal | organization
    user_id: str | None  # set for user keys
    service_account_id: str | None  # set for service-account keys
    scopes: frozenset[str]  # empty = full access
    role: str | None  # the user's role in the account; None for service accounts

    @property
    def full_access(self) -> bool:
        return not self.scopes

    def require(self, scope: str) -> None:
        if self.scopes and scope not in self.scopes:
            raise InsufficientScope(f"this key lacks the `{scope}` scope")

    def require_full_access(self) -> None:
        if self.scopes:
            raise InsufficientScope("account management needs a full-access key (one created without scopes)")

    def require_user(self) -> str:
        if self.user_id is None:
            raise Forbidden("service-account keys can't do this; use a user's key")
        return self.user_id
