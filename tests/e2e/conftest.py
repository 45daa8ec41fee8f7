"""E2E fixtures: one real `chaser server` (gVisor sandboxes) for the module run, a fresh user per
test, and `chaser`, which runs the installed CLI as that user (`CHASER_API_URL`/`CHASER_API_KEY`).

The server helpers are the integration suite's (`tests/integration/conftest.py`)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.factories import User, make_user
from tests.integration.conftest import CHASER, Server, running_server, runtime_missing

CLI_TIMEOUT_S = 180


@dataclass
class Cli:
    """Runs `.venv/bin/chaser ...` as one user against the e2e server."""

    server: Server
    user: User

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHASER_")}
        env.update(CHASER_API_URL=self.server.url, CHASER_API_KEY=self.user.key, NO_COLOR="1")
        return env

    def __call__(
        self, *args: str, input: str | None = None, timeout: float = CLI_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CHASER), *args],
            env=self.env,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        proc = self(*args, input=input)
        assert proc.returncode == 0, (
            f"chaser {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
        return proc.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))


def assert_clean_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """An API error: exit 1, one `error: <server message>` on stderr, no traceback."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


@pytest.fixture(scope="session")
def e2e_server() -> Iterator[Server]:
    reason = runtime_missing()
    if reason:
        pytest.skip(reason)
    with running_server() as server:
        yield server


@pytest.fixture
def cli(e2e_server: Server) -> Cli:
    return Cli(e2e_server, make_user(e2e_server))


@pytest.fixture
def sandbox(cli: Cli) -> Iterator[str]:
    """A running ephemeral sandbox made with `chaser sandbox`; terminated afterwards."""
    session_id = cli.ok("sandbox").strip()
    yield session_id
    cli("sessions", "terminate", session_id, "--force", "--yes")
