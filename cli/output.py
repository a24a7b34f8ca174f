"""Output formats shared by every command: rich tables, JSON and CSV."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

F = TypeVar("F", bound=Callable[..., Any])


def format_option(*choices: str) -> Callable[[F], F]:
    """A --format option with the given choices, the first being the default."""
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True,
        help="Output format.",
    )


output_option = click.option(
    "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
    help="With --format html: write the page to this file (default: standard output).")


def plain(value: Any) -> Any:
    """A JSON-friendly value."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def as_text(value: Any) -> str:
    """A table or CSV cell: dates in ISO, recorded times to the second, empty for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return "; ".join(as_text(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={as_text(item)}" for key, item in value.items()
                         if item not in (None, "", [], {}))
    return str(plain(value))


def emit_json(document: Any) -> None:
    click.echo(json.dumps(plain(document), indent=2, ensure_ascii=False))


def emit_rows(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, title: str = "",
    document: dict[str, Any] | None = None,
) -> None:
    """Print rows as a table, CSV, or a JSON document (`document` plus the rows)."""
    if fmt == "json":
        emit_json({**(document or {}), "rows": list(rows)})
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([as_text(row.get(column)) for column in columns])
    else:
        table = Table(title=title or None, show_lines=False)
        for column in columns:
            table.add_column(column.replace("_", " "), overflow="fold")
        for row in rows:
            table.add_row(*(escape(as_text(row.get(column))) for column in columns))
        Console(width=max(160, Console().width)).print(table)
