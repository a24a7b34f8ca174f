"""Output formats shared by every command: terminal tables, JSON and CSV, made safe at output.

Stored text stays exactly as recorded; only what is printed is neutralised: control
characters (ANSI escapes, line breaks) are shown escaped on the terminal, and CSV cells that
a spreadsheet would read as a formula are prefixed with a quote (OWASP's CSV injection advice).
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

F = TypeVar("F", bound=Callable[..., Any])

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
TOKEN_CAP = 40  # a column is never narrower than its longest word, up to this
DETAIL_INDENT = 4
DETAIL_CACHE = 10_000  # folded detail lines kept while a table streams
EMPTY_TABLE = "(none)"  # what a table with no rows shows under its title


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


def csv_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: one starting with = + - @ tab or CR gets a
    leading ' (numbers stay numbers)."""
    text = as_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return text
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def terminal_text(text: str) -> str:
    """Text safe to print on a terminal: line breaks, ANSI escapes and other control or
    invisible format characters shown as backslash escapes."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char == " " else _escaped(char)
                   for char in text)


def _escaped(char: str) -> str:
    named = NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """'1 enrolment', '2 enrolments', '1,000 days'."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"


def terminal_width() -> int:
    """The terminal's width: COLUMNS when set, else the terminal of stdout, stderr or stdin
    (so `ledger audit REF | less` keeps the screen's width), else 80."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    for stream in (sys.__stdout__, sys.__stderr__, sys.__stdin__):
        try:
            return os.get_terminal_size(stream.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):
            continue
    return 80


def emit_json(document: Any) -> None:
    click.echo(json.dumps(plain(document), indent=2, ensure_ascii=False))


def emit_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows as CSV on stdout, every cell neutralised for spreadsheets."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in columns])


def emit_rows(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, title: str = "",
    document: dict[str, Any] | None = None,
) -> None:
    """Print rows as a table, CSV, or a JSON document (`document` plus the rows)."""
    if fmt == "json":
        emit_json({**(document or {}), "rows": list(rows)})
    elif fmt == "csv":
        emit_csv(rows, columns)
    else:
        emit_table(rows, columns, title)


def emit_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str = "",
               width: int | None = None) -> None:
    """Rows as a table as wide as the terminal. No word is broken: each column is at least
    as wide as its longest word (up to 40 characters), else the columns that do not fit
    move to indented detail lines under each row, folded at spaces."""
    width = width or terminal_width()
    if not rows:
        if title:
            click.echo(terminal_text(title))
        click.echo(EMPTY_TABLE)
        return
    cells = [[terminal_text(as_text(row.get(column))) for column in columns] for row in rows]
    headers = [column.replace("_", " ") for column in columns]
    narrowest = [max([longest_word(header), *(min(longest_word(row[index]), TOKEN_CAP)
                                              for row in cells)])
                 for index, header in enumerate(headers)]
    if 1 + sum(size + 3 for size in narrowest) <= width:
        _rich_table(headers, cells, narrowest, title, width)
    else:
        widest = [max([len(header), *(len(row[index]) for row in cells)])
                  for index, header in enumerate(headers)]
        _table_with_details(headers, cells, fitting_columns(widest, width), title, width)


def longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def fitting_columns(widths: Sequence[int], width: int) -> list[int]:
    """The first columns that fit side by side, two spaces apart (at least one)."""
    used = 0
    shown: list[int] = []
    for index, size in enumerate(widths):
        if used + size > width and shown:
            break
        used += size + 2
        shown.append(index)
    return shown


def _rich_table(headers: Sequence[str], cells: Sequence[Sequence[str]],
                narrowest: Sequence[int], title: str, width: int) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title or None, show_lines=False)
    for index, (header, size) in enumerate(zip(headers, narrowest, strict=True)):
        # a column of single words (dates, references, numbers) takes no more than it needs,
        # so the free text beside it gets the room and folds on fewer lines
        words = all(" " not in row[index] for row in cells)
        widest = max([size, *(len(row[index]) for row in cells)]) if words else None
        table.add_column(header, overflow="fold", min_width=size, max_width=widest)
    for row in cells:
        table.add_row(*(escape(cell) for cell in row))
    Console(width=width, soft_wrap=False).print(table)


def _table_with_details(headers: Sequence[str], cells: Sequence[Sequence[str]],
                        shown: list[int], title: str, width: int) -> None:
    """Plain columns for `shown`, each other non-empty cell on a detail line below."""
    widths = {index: max(len(headers[index]), *(len(row[index]) for row in cells))
              for index in shown}
    if title:
        click.echo(title)
    click.echo(_line([headers[index].ljust(widths[index]) for index in shown]))
    click.echo(_line(["-" * widths[index] for index in shown]))
    hidden = [index for index in range(len(headers)) if index not in shown]
    for row in cells:
        click.echo(_line([row[index].ljust(widths[index]) for index in shown]))
        for index in hidden:
            if row[index]:
                click.echo(detail_line(headers[index], row[index], width))


def _line(parts: list[str]) -> str:
    return "  ".join(parts).rstrip()


def detail_line(label: str, text: str, width: int, indent: int = DETAIL_INDENT) -> str:
    """`label: text` indented, folded at spaces to the width; only a word longer than a
    whole line is broken."""
    return folded(f"{label}: {text}", width, indent, hanging=len(label) + 2)


def folded(text: str, width: int, indent: int = 0, hanging: int = 0) -> str:
    """Text indented and folded at spaces to the width (continuation lines `hanging`
    further in). A word is never broken: one longer than a whole line (an e-mail address, a
    reference) stands alone on its line, running past the width."""
    lead = " " * indent
    return "\n".join(textwrap.wrap(
        text, width=max(width, indent + hanging + 20), initial_indent=lead,
        subsequent_indent=lead + " " * hanging, break_on_hyphens=False,
        break_long_words=False,
    )) or lead


# ----- streamed output: rows written as they come, the whole report never held -------------

def csv_line_cells(row: dict[str, Any], columns: Sequence[str]) -> list[str]:
    """A row's CSV cells, as `csv_cell` makes them, with the common types' fast paths."""
    cells = []
    for column in columns:
        value = row.get(column)
        kind = type(value)
        if kind is str:
            cells.append("'" + value if value.startswith(FORMULA_STARTS) else value)
        elif kind is date:
            cells.append(value.isoformat())
        elif value is None:
            cells.append("")
        elif kind is int:
            cells.append(str(value))
        else:
            cells.append(csv_cell(value))
    return cells


def stream_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> int:
    """Rows as CSV on stdout as they come, every cell neutralised; returns how many."""
    return stream_csv_cells((csv_line_cells(row, columns) for row in rows), columns)


def stream_csv_cells(lines: Iterable[Sequence[str]], columns: Sequence[str]) -> int:
    """CSV lines already made cells (each neutralised: `csv_cell`, `guarded`) on stdout as
    they come, a block of lines a write; returns how many."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for block in _blocks(lines, 1000):
        writer.writerows(block)
        count += len(block)
    return count


def _blocks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    block: list[Any] = []
    for item in items:
        block.append(item)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def guarded(text: str) -> str:
    """Text as a CSV cell a spreadsheet shows as text (`csv_cell` of a string)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def stream_json(document: dict[str, Any], rows: Iterable[dict[str, Any]]) -> int:
    """`emit_json({**document, "rows": rows})`, the same text, written row by row; returns
    how many rows."""
    head = json.dumps(plain({**document, "rows": []}), indent=2, ensure_ascii=False)
    assert head.endswith("[]\n}")
    write = sys.stdout.write
    write(head[:-len("[]\n}")])
    count = 0
    for block in _blocks(rows, 1000):
        write(("[" if count == 0 else ",") + _json_rows(block))
        count += len(block)
    write("\n  ]\n}\n" if count else "[]\n}\n")
    return count


def _json_rows(rows: list[dict[str, Any]]) -> str:
    """Rows as `stream_json` writes them one by one (each on a new line, indented as the
    document's "rows"), made by one orjson call for the block when it takes them."""
    try:
        text = orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        return ",".join("\n    " + json_text(row).replace("\n", "\n    ") for row in rows)
    return text[1:-2].replace("\n", "\n  ")


def json_text(value: Any) -> str:
    """`json.dumps(plain(value), indent=2, ensure_ascii=False)`, the same text, made by
    orjson (a tenth of the time); values orjson does not take go the slow way."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        return json.dumps(plain(value), indent=2, ensure_ascii=False)


def stream_table(rows: Iterable[dict[str, Any]], columns: Sequence[str],
                 widths: dict[str, int], title: str = "", *, details: Sequence[str] = (),
                 priority: Sequence[str] | None = None, headers: dict[str, str] | None = None,
                 width: int | None = None) -> int:
    """Rows as a table as wide as the terminal, printed as they come; returns how many.

    Column widths are known before the rows (`widths`: the widest value of each column).
    The columns that fit side by side (in `priority` order) are shown padded, never folded,
    so no date, reference or number is split; the others, and the long text of `details`,
    go on indented detail lines below each row, folded at spaces."""
    width = width or terminal_width()
    rows = iter(rows)
    first = next(rows, None)
    if first is None:  # a title over an empty table says less than a word
        if title:
            sys.stdout.write(terminal_text(title) + "\n")
        sys.stdout.write(EMPTY_TABLE + "\n")
        return 0
    rows = itertools.chain([first], rows)
    names = {column: (headers or {}).get(column, column.replace("_", " "))
             for column in columns}
    sizes = {column: max(len(names[column]), widths.get(column, 0)) for column in columns}
    inline = _fitting(sizes, [c for c in (priority or columns) if c not in details], width)
    shown = [column for column in columns if column in inline]
    below = [column for column in columns if column not in inline]
    out = sys.stdout.write
    if title:
        out(terminal_text(title) + "\n")
    out(_line([names[column].ljust(sizes[column]) for column in shown]) + "\n")
    out(_line(["-" * sizes[column] for column in shown]) + "\n")
    count = 0
    details: dict[tuple[str, str], str] = {}  # a rule's citation comes back on many rows
    for row in rows:
        cells = {column: terminal_text(as_text(row.get(column))) for column in columns}
        line = _line([cells[column].ljust(sizes[column]) for column in shown])
        for column in below:
            text = cells[column]
            if text:
                lines = details.get((column, text))
                if lines is None:
                    lines = detail_line(names[column], text, width)
                    if len(details) < DETAIL_CACHE:
                        details[column, text] = lines
                line += "\n" + lines
        out(line + "\n")
        count += 1
    return count


def _fitting(sizes: dict[str, int], order: Sequence[str], width: int) -> set[str]:
    """The columns, taken in order, that fit side by side two spaces apart (at least one)."""
    used, chosen = 0, set()
    for column in order:
        needed = sizes[column] + (2 if chosen else 0)
        if used + needed <= width or not chosen:
            chosen.add(column)
            used += needed
    return chosen
