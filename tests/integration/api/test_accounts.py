"""Accounts, organizations, members and roles, service accounts (decisions.md, Auth).

Keys are bound to one account, so each member acts in the org through a key bound to the org for
that user (`member_api`)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import Api, User, UserSource, create_org, expect, expect_error, make_user, new_name


def member_api(server: UserSource, org_id: str, member: User) -> Api:
    """A full-access key bound to `org_id` for `member` (who must already be a member)."""
    made = server.create_key(member.email, org_id)
    return Api(server.url, made["key"])


def add_member(api: Api, email: str, role: str) -> dict[str, Any]:
    return expect(api.post("/v1/accounts/current/members", json={"email": email, "role": role}), 201)


def roles(api: Api) -> dict[str, str]:
    return {m["user_id"]: m["role"] for m in expect(api.get("/v1/accounts/current/members"), 200)["data"]}


@pytest.fixture
def org(user: User) -> tuple[dict[str, Any], Api]:
    """An org created by `user`, and the owner's org-bound key."""
    made = create_org(user.api)
    return made["account"], Api(user.api.base_url, made["key"]["key"])


def test_personal_account_is_listed_with_the_user_as_owner(user: User) -> None:
    accounts = expect(user.api.get("/v1/accounts"), 200)["data"]
    personal = [a for a in accounts if a["id"] == user.account_id]
    assert len(personal) == 1
    assert personal[0]["name"] == user.email.lower()
    assert personal[0]["kind"] == "personal"
    assert roles(user.api) == {user.user_id: "owner"}


def test_create_org_makes_the_creator_owner(user: User) -> None:
    name = new_name("Org")
    made = create_org(user.api, name)
    assert made["account"]["name"] == name
    assert made["account"]["kind"] == "organization"
    assert made["key"]["full_access"] is True and made["key"]["key"].startswith("sk_")
    org_api = Api(user.api.base_url, made["key"]["key"])
    assert expect(org_api.get("/v1/accounts/current"), 200)["id"] == made["account"]["id"]
    assert roles(org_api) == {user.user_id: "owner"}
    assert made["account"]["id"] in {a["id"] for a in expect(user.api.get("/v1/accounts"), 200)["data"]}


def test_duplicate_org_name_is_409_case_insensitively(user: User, other_user: User) -> None:
    name = new_name("Dup")
    create_org(user.api, name)
    expect_error(
        other_user.api.post("/v1/accounts/organizations", json={"name": name.lower()}), 409, "name_taken"
    )
    expect_error(user.api.post("/v1/accounts/organizations", json={"name": name.upper()}), 409, "name_taken")


@pytest.mark.parametrize("name", ["", "-leading-dash", "has space", "a" * 65, "semi;colon"])
def test_bad_org_name_is_400(user: User, name: str) -> None:
    expect_error(user.api.post("/v1/accounts/organizations", json={"name": name}), 400, "invalid_field")


def test_owner_adds_member_by_email(server: UserSource, user: User, other_user: User, org: Any) -> None:
    account, owner = org
    added = add_member(owner, other_user.email.upper(), "member")
    assert added["user_id"] == other_user.user_id and added["role"] == "member"
    assert roles(owner) == {user.user_id: "owner", other_user.user_id: "member"}
    assert account["id"] in {a["id"] for a in expect(other_user.api.get("/v1/accounts"), 200)["data"]}


def test_add_member_errors(user: User, other_user: User, org: Any) -> None:
    _, owner = org
    body = {"email": "nobody-" + new_name() + "@example.test", "role": "member"}
    expect_error(owner.post("/v1/accounts/current/members", json=body), 404, "user_not_found")
    body = {"email": other_user.email, "role": "superuser"}
    expect_error(owner.post("/v1/accounts/current/members", json=body), 400, "invalid_field")
    add_member(owner, other_user.email, "member")
    body = {"email": other_user.email, "role": "admin"}
    expect_error(owner.post("/v1/accounts/current/members", json=body), 409, "already_member")


def test_personal_account_takes_no_members(user: User, other_user: User) -> None:
    body = {"email": other_user.email, "role": "member"}
    expect_error(user.api.post("/v1/accounts/current/members", json=body), 400, "invalid_request")


def test_member_can_list_but_not_manage(server: UserSource, user: User, org: Any) -> None:
    account, owner = org
    member, third = make_user(server), make_user(server)
    add_member(owner, member.email, "member")
    as_member = member_api(server, account["id"], member)
    assert roles(as_member)[member.user_id] == "member"
    body = {"email": third.email, "role": "member"}
    expect_error(as_member.post("/v1/accounts/current/members", json=body), 403, "forbidden")
    expect_error(
        as_member.patch(f"/v1/accounts/current/members/{user.user_id}", json={"role": "member"}),
        403,
        "forbidden",
    )
    expect_error(as_member.delete(f"/v1/accounts/current/members/{user.user_id}"), 403, "forbidden")


def test_admin_manages_members_but_not_owners(server: UserSource, user: User, org: Any) -> None:
    account, owner = org
    admin, newcomer = make_user(server), make_user(server)
    add_member(owner, admin.email, "admin")
    as_admin = member_api(server, account["id"], admin)
    add_member(as_admin, newcomer.email, "member")
    patched = expect(
        as_admin.patch(f"/v1/accounts/current/members/{newcomer.user_id}", json={"role": "admin"}), 200
    )
    assert patched["role"] == "admin"
    expect(as_admin.delete(f"/v1/accounts/current/members/{newcomer.user_id}"), 200)
    assert newcomer.user_id not in roles(owner)
    # Owner memberships and the owner role are the owners' business.
    path = f"/v1/accounts/current/members/{user.user_id}"
    expect_error(as_admin.patch(path, json={"role": "member"}), 403, "forbidden")
    expect_error(as_admin.delete(path), 403, "forbidden")
    expect_error(
        as_admin.post("/v1/accounts/current/members", json={"email": newcomer.email, "role": "owner"}),
        403,
        "forbidden",
    )
    expect_error(
        as_admin.patch(f"/v1/accounts/current/members/{admin.user_id}", json={"role": "owner"}),
        403,
        "forbidden",
    )
    assert roles(owner) == {user.user_id: "owner", admin.user_id: "admin"}


def test_last_owner_cannot_be_removed_or_demoted(user: User, org: Any) -> None:
    _, owner = org
    path = f"/v1/accounts/current/members/{user.user_id}"
    expect_error(owner.delete(path), 409, "last_owner")
    expect_error(owner.patch(path, json={"role": "admin"}), 409, "last_owner")
    assert roles(owner) == {user.user_id: "owner"}


def test_owner_promotes_another_owner_then_leaves(server: UserSource, user: User, org: Any) -> None:
    account, owner = org
    heir = make_user(server)
    add_member(owner, heir.email, "member")
    expect(owner.patch(f"/v1/accounts/current/members/{heir.user_id}", json={"role": "owner"}), 200)
    expect(owner.delete(f"/v1/accounts/current/members/{user.user_id}"), 200)
    as_heir = member_api(server, account["id"], heir)
    assert roles(as_heir) == {heir.user_id: "owner"}
    expect_error(as_heir.delete(f"/v1/accounts/current/members/{heir.user_id}"), 409, "last_owner")
    assert account["id"] not in {a["id"] for a in expect(user.api.get("/v1/accounts"), 200)["data"]}


def test_member_may_leave(server: UserSource, user: User, org: Any) -> None:
    account, owner = org
    member = make_user(server)
    add_member(owner, member.email, "member")
    as_member = member_api(server, account["id"], member)
    expect(as_member.delete(f"/v1/accounts/current/members/{member.user_id}"), 200)
    assert roles(owner) == {user.user_id: "owner"}


def test_service_account_keys_are_bound_to_the_org(user: User, org: Any) -> None:
    account, owner = org
    sa = expect(owner.post("/v1/accounts/current/service-accounts", json={"name": "ci-bot"}), 201)
    assert sa["name"] == "ci-bot"
    assert sa["id"] in {
        s["id"] for s in expect(owner.get("/v1/accounts/current/service-accounts"), 200)["data"]
    }
    key = expect(
        owner.post(
            f"/v1/accounts/current/service-accounts/{sa['id']}/keys",
            json={"name": "deploy", "scopes": ["workspaces.read"]},
        ),
        201,
    )
    bot = Api(owner.base_url, key["key"])
    assert expect(bot.get("/v1/accounts/current"), 200)["id"] == account["id"]
    assert expect(bot.get("/v1/workspaces"), 200)["data"] == []
    expect_error(bot.in_account(user.account_id).get("/v1/workspaces"), 403, "forbidden")
    expect_error(bot.post("/v1/workspaces", json={}), 403, "insufficient_scope")
    expect(owner.delete(f"/v1/accounts/current/service-accounts/{sa['id']}"), 200)
    expect_error(bot.get("/v1/workspaces"), 401, "unauthorized")


def test_service_account_key_cannot_create_user_keys(org: Any) -> None:
    _, owner = org
    sa = expect(owner.post("/v1/accounts/current/service-accounts", json={"name": "bot"}), 201)
    key = expect(
        owner.post(f"/v1/accounts/current/service-accounts/{sa['id']}/keys", json={"name": "k"}), 201
    )
    expect_error(Api(owner.base_url, key["key"]).post("/v1/keys", json={"name": "x"}), 403, "forbidden")


def test_service_accounts_need_an_org(user: User) -> None:
    resp = user.api.post("/v1/accounts/current/service-accounts", json={"name": "bot"})
    expect_error(resp, 400, "invalid_request")


def test_members_cannot_manage_service_accounts(server: UserSource, org: Any) -> None:
    account, owner = org
    member = make_user(server)
    add_member(owner, member.email, "member")
    as_member = member_api(server, account["id"], member)
    resp = as_member.post("/v1/accounts/current/service-accounts", json={"name": "bot"})
    expect_error(resp, 403, "forbidden")
