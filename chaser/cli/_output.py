"""The one renderer: tables for people, JSON for machines (`--json`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def display_table(
    columns: Sequence[str | tuple[str, str]],
    rows: Sequence[dict[str, Any]],
    *,
    json_output: bool,
    raw: Any = None,
    title: str = "",
) -> None:
    """A table of `rows` (dicts); `columns` are keys or (key, header) pairs. With `json_output`,
    `raw` (or the rows) as JSON instead."""
    if json_output:
        print_json(raw if raw is not None else list(rows))
        return
    from rich.table import Table

    keys = [c if isinstance(c, str) else c[0] for c in columns]
    table = Table(title=title or None, box=None, header_style="bold", pad_edge=False)
    for col in columns:
        header = col if isinstance(col, str) else col[1]
        table.add_column(header.upper(), no_wrap=True)
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for key in keys))
    _console().print(table)


def _console() -> Any:
    """Full-width lines when piped (ids must stay whole for `grep`/`awk`)."""
    from rich.console import Console

    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 400)


def display_record(record: dict[str, Any], *, json_output: bool, fields: Sequence[str] | None = None) -> None:
    """One object: `key  value` lines for people, the whole object as JSON for machines."""
    if json_output:
        print_json(record)
        return
    from rich.table import Table

    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in fields or list(record):
        if key in record:
            table.add_row(key, _cell(record[key]))
    _console().print(table)


def stderr(message: str) -> None:
    print(message, file=sys.stderr)
