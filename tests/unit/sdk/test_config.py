"""Configuration precedence and URL building (pure)."""

from __future__ import annotations

import pytest

from chaser.sdk._exec import parse_sse
from chaser.sdk._http import DEFAULT_API_URL, Config


def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHASER_API_URL", "http://env:1")
    monkeypatch.setenv("CHASER_API_KEY", "sk_env")
    monkeypatch.setenv("CHASER_ACCOUNT", "env-org")
    assert Config.resolve() == Config("http://env:1", "sk_env", "env-org")
    assert Config.resolve("http://arg:2/", "sk_arg", "arg-org") == Config("http://arg:2", "sk_arg", "arg-org")


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHASER_API_URL", "CHASER_API_KEY", "CHASER_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    config = Config.resolve()
    assert config.api_url == DEFAULT_API_URL == "http://127.0.0.1:8000"
    assert config.api_key is None and config.account is None
    assert "Authorization" not in config.headers()


def test_ws_url() -> None:
    assert Config("https://x.test", None, None).ws_url("/v1/p", {"a": 1, "b": None, "c": True}) == (
        "wss://x.test/v1/p?a=1&c=true"
    )
    assert Config("http://x.test:8000", None, None).ws_url("/v1/p") == "ws://x.test:8000/v1/p"


def test_parse_sse_blocks() -> None:
    out = parse_sse(["id: 3", "event: stdout", 'data: {"data": "hi\\n"}'])
    assert out is not None and (out.id, out.event, out.data) == (3, "stdout", "hi\n")
    done = parse_sse(["id: 4", "event: exit", 'data: {"exit_code": 2}'])
    assert done is not None and (done.event, done.exit_code) == ("exit", 2)
    assert parse_sse([": keep-alive"]) is None
