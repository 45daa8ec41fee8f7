"""Role rules (decisions.md, Members): who may add, change and remove whom."""

from __future__ import annotations

import pytest

from chaser.domain.errors import Forbidden, InvalidField, LastOwner
from chaser.domain.members import check_add, check_change, check_remove, validate_role


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_known_roles_are_valid(role: str) -> None:
    assert validate_role(role) == role


@pytest.mark.parametrize("role", ["", "superuser", "Owner"])
def test_unknown_role_is_invalid_field(role: str) -> None:
    with pytest.raises(InvalidField):
        validate_role(role)


@pytest.mark.parametrize(("actor", "new_role"), [("owner", "owner"), ("owner", "member"), ("admin", "admin")])
def test_owners_and_admins_add(actor: str, new_role: str) -> None:
    check_add(actor, new_role)


@pytest.mark.parametrize(("actor", "new_role"), [("member", "member"), (None, "member"), ("admin", "owner")])
def test_add_forbidden(actor: str | None, new_role: str) -> None:
    with pytest.raises(Forbidden):
        check_add(actor, new_role)


def test_admin_changes_members_but_not_owners() -> None:
    check_change("admin", "member", "admin", owners=1)
    with pytest.raises(Forbidden):
        check_change("admin", "owner", "member", owners=2)
    with pytest.raises(Forbidden):
        check_change("admin", "admin", "owner", owners=1)
    with pytest.raises(Forbidden):
        check_change("member", "member", "admin", owners=1)


def test_last_owner_is_never_demoted() -> None:
    with pytest.raises(LastOwner):
        check_change("owner", "owner", "admin", owners=1)
    check_change("owner", "owner", "admin", owners=2)
    check_change("owner", "owner", "owner", owners=1)


def test_remove_rules() -> None:
    check_remove("admin", "member", owners=1, is_self=False)
    check_remove("member", "member", owners=1, is_self=True)  # leaving
    check_remove("owner", "owner", owners=2, is_self=False)
    with pytest.raises(Forbidden):
        check_remove("member", "admin", owners=1, is_self=False)
    with pytest.raises(Forbidden):
        check_remove("admin", "owner", owners=2, is_self=False)
    with pytest.raises(LastOwner):
        check_remove("owner", "owner", owners=1, is_self=True)
    with pytest.raises(LastOwner):
        check_remove("owner", "owner", owners=1, is_self=False)
