"""`chaser upload` and `chaser download` (16 MiB per file), with progress bars on a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from chaser.cli._client import JsonOpt, api_errors, client, fail, want_json


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int, int | None], None] | None]:
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=False,
        console=_stderr_console(),
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _stderr_console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True)


def upload(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(help="Session id")],
    local: Annotated[Path, typer.Argument(help="Local file")],
    remote: Annotated[str, typer.Argument(help="Absolute destination path in the sandbox")],
    json_: JsonOpt = False,
) -> None:
    """Copy a local file into a sandbox."""
    if not local.is_file():
        raise fail(f"{local}: no such file")
    as_json = want_json(ctx, json_)
    with api_errors(), client(ctx) as chaser, _progress(f"upload {local.name}", _show(as_json)) as progress:
        result = chaser.upload(session_id, remote, local, progress=progress)
    if as_json:
        from chaser.cli._output import print_json

        print_json(result)
    else:
        print(f"{result.get('path')} ({result.get('size')} bytes)")


def download(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(help="Session id")],
    remote: Annotated[str, typer.Argument(help="Absolute path of a file in the sandbox")],
    local: Annotated[
        Path | None, typer.Argument(help="Local path or directory ('-' for stdout) [default: its name here]")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Copy a file out of a sandbox."""
    as_json = want_json(ctx, json_)
    to_stdout = local is not None and str(local) == "-"
    target = local or Path(os.path.basename(remote.rstrip("/")) or "download")
    if not to_stdout and target.is_dir():
        target = target / (os.path.basename(remote.rstrip("/")) or "download")
    show = _show(as_json) and not to_stdout
    with (
        api_errors(),
        client(ctx) as chaser,
        _progress(f"download {os.path.basename(remote)}", show) as progress,
    ):
        if to_stdout:
            data = chaser.download(session_id, remote, progress=progress)
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            return
        size = chaser.files.download_to(session_id, remote, target, progress=progress)
    if as_json:
        from chaser.cli._output import print_json

        print_json({"path": str(target), "size": size})
    else:
        print(f"{target} ({size} bytes)")


def _show(as_json: bool) -> bool:
    return not as_json and sys.stderr.isatty()
