"""Authentication and the active account: every `/v1` route needs a valid key, and a key is bound
to the account it was created in."""

from __future__ import annotations

import secrets

import pytest

from tests.factories import Api, User, UserSource, create_key, create_org, expect, expect_error, make_user


def test_missing_key_is_401(user: User) -> None:
    expect_error(user.api.with_key(None).get("/v1/sessions"), 401, "unauthorized")


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer", "Basic dXNlcjpwYXNz", "sk_nobearer"])
def test_malformed_authorization_is_401(user: User, header: str) -> None:
    resp = user.api.with_key(None).get("/v1/workspaces", headers={"Authorization": header})
    expect_error(resp, 401, "unauthorized")


def test_unknown_well_formed_key_is_401(user: User) -> None:
    forged = "sk_" + secrets.token_urlsafe(32)
    expect_error(user.api.with_key(forged).get("/v1/keys"), 401, "unauthorized")


def test_revoked_key_is_401(user: User) -> None:
    key = create_key(user.api)
    assert expect(user.api.with_key(key["key"]).get("/v1/sessions"), 200)["data"] == []
    expect(user.api.delete(f"/v1/keys/{key['id']}"), 200)
    expect_error(user.api.with_key(key["key"]).get("/v1/sessions"), 401, "unauthorized")


def test_account_header_omitted_is_the_personal_account(user: User) -> None:
    current = expect(user.api.get("/v1/accounts/current"), 200)
    assert current["id"] == user.account_id
    assert current["name"] == user.email.lower()


@pytest.mark.parametrize("form", ["id", "name", "personal"])
def test_account_header_forms_select_the_keys_account(user: User, form: str) -> None:
    selector = {"id": user.account_id, "name": user.email.lower(), "personal": "personal"}[form]
    current = expect(user.api.in_account(selector).get("/v1/accounts/current"), 200)
    assert current["id"] == user.account_id


def test_account_header_naming_another_users_account_is_403(user: User, other_user: User) -> None:
    for selector in (other_user.account_id, other_user.email.lower()):
        resp = user.api.in_account(selector).get("/v1/workspaces")
        expect_error(resp, 403, "forbidden")


def test_account_header_naming_an_unknown_account_is_403(user: User) -> None:
    for selector in ("no-such-account-" + secrets.token_hex(4), "7f0c6f0e-8a43-4a4e-9b7e-0d7e8c1b2a3f"):
        expect_error(user.api.in_account(selector).get("/v1/workspaces"), 403, "forbidden")


def test_personal_key_cannot_act_in_own_org(user: User) -> None:
    """Even for an owner: the personal key is bound to the personal account, the org key to the org."""
    org = create_org(user.api)
    expect_error(user.api.in_account(org["account"]["id"]).get("/v1/workspaces"), 403, "forbidden")
    org_api = Api(user.api.base_url, org["key"]["key"])
    assert expect(org_api.get("/v1/accounts/current"), 200)["id"] == org["account"]["id"]
    expect_error(org_api.in_account(user.account_id).get("/v1/workspaces"), 403, "forbidden")


def test_healthz_needs_no_key(user: User) -> None:
    resp = user.api.with_key(None).get("/healthz")
    assert resp.status_code == 200, resp.text


def test_users_are_created_with_distinct_accounts(server: UserSource) -> None:
    first, second = make_user(server), make_user(server)
    assert first.account_id != second.account_id
    assert first.key.startswith("sk_") and len(first.key) == 3 + 43
