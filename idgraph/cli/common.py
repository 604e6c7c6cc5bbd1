"""Helpers shared by the command modules: option types, dates, summaries, errors."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from idgraph.core.redaction import RedactingFilter, redact

console = Console(stderr=False)
err_console = Console(stderr=True)

LakeOpt = Annotated[str, typer.Option("--lake", "--out", help="Lake root (path or s3://).")]
DateOpt = Annotated[str, typer.Option("--date", help="Day to process, YYYY-MM-DD.")]


def parse_day(value: str, *, name: str = "date") -> dt.date:
    """Parse an ISO date from the command line, failing with a readable message."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{name} must be YYYY-MM-DD, got {value!r}") from exc


def setup_logging(verbose: bool = False) -> None:
    """Route logs through rich; quiet the chatty libraries."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="%H:%M:%S",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=True)],
        force=True,
    )
    for handler in logging.getLogger().handlers:  # no Redis password in any log line
        handler.addFilter(RedactingFilter())
    for noisy in ("py4j", "urllib3", "botocore", "mlflow", "alembic", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def fmt(value: Any) -> str:
    """Human formatting for summary cells: thousands separators, 4 significant decimals."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return redact(str(value))  # a URL in a summary shows no credentials


def summary_table(title: str, rows: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Table:
    """A two-column table of headline figures."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    items = rows.items() if isinstance(rows, Mapping) else rows
    for key, value in items:
        table.add_row(str(key), fmt(value))
    return table
