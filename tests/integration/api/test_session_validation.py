"""`POST /v1/sessions` validation: one test per rule of the contract and decisions.md. None of these
requests may start a sandbox, so they run on both records backends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import User, create_workspace, expect, expect_error


def rejected(user: User, body: Any, status: int = 400, code: str = "invalid_field") -> str:
    message = expect_error(user.api.post("/v1/sessions", json=body), status, code)
    assert expect(user.api.get("/v1/sessions"), 200)["count"] == 0, (
        "a rejected create must not start a session"
    )
    return message.lower()


def test_ephemeral_with_workspace(user: User) -> None:
    ws = create_workspace(user.api)
    message = rejected(user, {"ephemeral": True, "workspace": ws["name"]})
    assert "ephemeral" in message and "workspace" in message


def test_persistent_without_workspace(user: User) -> None:
    assert "workspace" in rejected(user, {})
    assert "workspace" in rejected(user, {"ephemeral": False, "session_type": "sandbox"})


def test_browser_with_image(user: User) -> None:
    assert "image" in rejected(user, {"session_type": "browser", "ephemeral": True, "image": "base"})


def test_persistent_sandbox_with_image(user: User) -> None:
    ws = create_workspace(user.api)
    assert "image" in rejected(user, {"workspace": ws["id"], "image": "base"})


def test_workspace_type_mismatch(user: User) -> None:
    ws = create_workspace(user.api, session_type="browser")
    assert ws["session_type"] == "browser"
    assert "session_type" in rejected(user, {"workspace": ws["name"], "session_type": "sandbox"})


@pytest.mark.parametrize("value", [0, -1, 86401, 10**12])
def test_timeout_s_out_of_range(user: User, value: int) -> None:
    assert "timeout_s" in rejected(user, {"ephemeral": True, "timeout_s": value})


@pytest.mark.parametrize(
    ("field", "value"), [("vcpus", 0), ("vcpus", 5), ("memory_mib", 127), ("memory_mib", 8193)]
)
def test_resources_out_of_range(user: User, field: str, value: int) -> None:
    assert field in rejected(user, {"ephemeral": True, field: value})


@pytest.mark.parametrize("env", [{"1ABC": "x"}, {"A-B": "x"}, {"": "x"}, {"OK": 1}, {"OK": None}, ["A=b"]])
def test_bad_env(user: User, env: Any) -> None:
    assert "env" in rejected(user, {"ephemeral": True, "env": env})


def test_unknown_workspace_is_404(user: User) -> None:
    rejected(user, {"workspace": "no-such-workspace"}, 404, "workspace_not_found")
    rejected(user, {"workspace": "00000000-0000-4000-8000-000000000000"}, 404, "workspace_not_found")


@pytest.mark.parametrize("session_type", ["vm", "", "SANDBOX", None])
def test_bad_session_type(user: User, session_type: Any) -> None:
    assert "session_type" in rejected(user, {"ephemeral": True, "session_type": session_type})


def test_unknown_image(user: User) -> None:
    # OCI references go to the host (it pulls them); a malformed one never leaves the control plane.
    message = rejected(user, {"ephemeral": True, "image": "Not An Image!"})
    assert "base" in message, "the message names the available images"


def test_malformed_json_is_invalid_request(user: User) -> None:
    resp = user.api.post(
        "/v1/sessions", content=b'{"ephemeral": tru', headers={"Content-Type": "application/json"}
    )
    expect_error(resp, 400, "invalid_request")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ephemeral": True, "vcpus": "many"}, "vcpus"),
        ({"ephemeral": [True]}, "ephemeral"),
        ({"ephemeral": True, "env": "A=b"}, "env"),
        ({"ephemeral": True, "timeout_s": "soon"}, "timeout_s"),
    ],
)
def test_wrong_type_is_invalid_field_naming_it(user: User, body: dict[str, Any], field: str) -> None:
    assert field in rejected(user, body)


@pytest.mark.parametrize("body", [[], "sandbox", 42, None])
def test_body_that_is_not_an_object(user: User, body: Any) -> None:
    rejected(user, body)


def test_oversize_body_is_413(user: User) -> None:
    body = {"ephemeral": True, "env": {"BIG": "x" * (1024 * 1024 + 1)}}
    rejected(user, body, 413, "too_large")
