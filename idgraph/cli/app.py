"""The Typer application every command module registers on."""

from __future__ import annotations

import typer
from rich.markup import escape

from idgraph.cli.common import err_console
from idgraph.core.settings import UnknownSettingError, check_settings_environment

app = typer.Typer(
    name="idgraph",
    help="Identity graph for first-party cookies: simulate, run the daily jobs, train, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _refuse_unknown_settings() -> None:
    # Before any command: a misspelt IDGRAPH_* variable is one red line, not a traceback, and
    # not a default silently used by a command that never loads the settings.
    try:
        check_settings_environment()
    except UnknownSettingError as exc:
        err_console.print(f"[bold red]invalid settings:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(code=2) from exc
