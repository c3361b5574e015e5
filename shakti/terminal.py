"""What the ``shakti`` commands print, in one place: tables that fit the terminal (or JSON with
``--json``), the problems of a refused file with their line and column, and bilingual failures.

Every command uses these, so that a new command reads like the others::

    @app.command("list")
    def things(as_json: JsonOption = False) -> None:
        show_table([{"code": ..., "name": ...}], [Column("code"), Column("name")], as_json=as_json)

    raise fail("No such thing.", "ऐसी कोई चीज़ नहीं।")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(highlight=False)
"""Standard output: results."""
errors = Console(stderr=True, highlight=False)
"""Standard error: failures and problems, so that ``--json`` output stays parseable."""

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (for scripts and jq) instead of a table.")
]


def fail(en: str, hi: str, code: int = 1) -> typer.Exit:
    """Print a failure in English and Hindi on standard error; raise the returned Exit."""
    errors.print(f"[red]{escape(en)}[/red]")
    errors.print(f"[red]{escape(hi)}[/red]")
    return typer.Exit(code)


def print_json(value: Any) -> None:
    console.out(json.dumps(value, ensure_ascii=False, indent=2, default=str), highlight=False)


@dataclass(frozen=True)
class Column:
    """One column of a table: its heading and how a record's cell is shown."""

    key: str
    heading: str = ""
    show: Callable[[Any], str] = lambda value: "" if value is None else str(value)
    justify: str = "left"

    @property
    def title(self) -> str:
        return self.heading or self.key.replace("_", " ")


def table(columns: Sequence[Column], title: str | None = None) -> Table:
    """An empty table whose columns wrap or fold their text, never cut it, to fit the terminal."""
    shown = Table(title=title, title_justify="left", expand=False)
    for column in columns:
        shown.add_column(column.title, overflow="fold", justify=column.justify)  # type: ignore[arg-type]
    return shown


def show_table(
    records: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    as_json: bool,
    title: str | None = None,
    empty: tuple[str, str] | None = None,
) -> None:
    """The records as a table that fits the terminal, or as a JSON list (every field, not only the
    columns) with ``--json``. ``empty`` is what to say (English, Hindi) when there is nothing."""
    if as_json:
        print_json(list(records))
        return
    if not records and empty is not None:
        console.print(f"{empty[0]} / {empty[1]}")
        return
    shown = table(columns, title)
    for record in records:
        shown.add_row(*(escape(column.show(record.get(column.key))) for column in columns))
    console.print(shown)


PROBLEM_COLUMNS = (
    Column("line", justify="right"),
    Column("column"),
    Column("en", "problem"),
    Column("hi", "समस्या"),
)


def problems_of(detail: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The problems a service listed in an error's detail, each with its line and column.

    Services name them differently: routing's sheets ``problems`` (with ``column`` where it has one),
    training's iGOT import ``report.problems`` (the column as ``field``), a refused request body
    ``fields``."""
    listed = detail.get("problems") or (detail.get("report") or {}).get("problems") or detail.get("fields")
    found = []
    for problem in listed or []:
        if not isinstance(problem, Mapping):
            continue
        found.append(
            {
                "line": problem.get("line"),
                "column": problem.get("column") or problem.get("field") or "",
                "en": problem.get("en", ""),
                "hi": problem.get("hi", ""),
            }
        )
    return found


def show_problems(problems: Sequence[Mapping[str, Any]], title: str | None = None) -> None:
    """The problems of a file or a request, one a row, on standard error."""
    shown = table(PROBLEM_COLUMNS, title)
    for problem in problems:
        line = problem.get("line")
        shown.add_row(
            "" if line in (None, 0) else str(line),
            escape(str(problem.get("column") or "")),
            escape(str(problem.get("en") or "")),
            escape(str(problem.get("hi") or "")),
        )
    errors.print(shown)
