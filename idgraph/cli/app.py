"""The Typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="idgraph",
    help="Identity graph for first-party cookies: simulate, run the daily jobs, train, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
