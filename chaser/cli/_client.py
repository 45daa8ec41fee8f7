"""Global options (`--json`, `--account`, `--api-url`, `--api-key`) and the SDK client built from
them, plus the one place API errors become a message on stderr and exit code 1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from chaser.sdk import AsyncClient, Client

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine output (JSON) instead of tables")]


@dataclass
class Globals:
    json: bool = False
    account: str | None = None
    api_url: str | None = None
    api_key: str | None = None


def globals_of(ctx: typer.Context) -> Globals:
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, Globals):
        obj = Globals()
        root.obj = obj
    return obj


def want_json(ctx: typer.Context, local: bool = False) -> bool:
    """`--json` given before the command (global) or after it (local)."""
    return local or globals_of(ctx).json


def client(ctx: typer.Context) -> Client:
    from chaser.sdk import Client

    g = globals_of(ctx)
    return Client(g.api_url, g.api_key, g.account)


def async_client(ctx: typer.Context) -> AsyncClient:
    from chaser.sdk import AsyncClient

    g = globals_of(ctx)
    return AsyncClient(g.api_url, g.api_key, g.account)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Prints `error: message` on stderr; `raise fail(...)`."""
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


@contextmanager
def api_errors() -> Iterator[None]:
    """Turns SDK errors into the server's message on stderr and exit code 1 (no traceback)."""
    from chaser.sdk import ChaserError

    try:
        yield
    except ChaserError as exc:
        hint = ""
        if exc.code == "unauthorized":
            hint = " (set --api-key or CHASER_API_KEY; `chaser admin create-user` makes one)"
        raise fail(f"{exc.message}{hint}") from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
