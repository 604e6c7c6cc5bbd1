"""Command ``idgraph explain``: why a cookie has its unified ID, or why two cookies share one."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.console import Console

from idgraph.cli.app import app
from idgraph.cli.common import DateOpt, LakeOpt, console, err_console, parse_day, setup_logging
from idgraph.core.settings import load_settings


@app.command()
def explain(
    lake: LakeOpt,
    date: DateOpt,
    cookies: Annotated[
        list[str] | None,
        typer.Argument(help="One or two cookies, SITE/COOKIE.", show_default=False),
    ] = None,
    sample: Annotated[
        bool, typer.Option(help="Explain one scored link of the day instead (a hash order).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Why SITE/COOKIE has its unified ID, or why two cookies share one (or not): the path of
    edges joining them (login, scored, session rule), each scored edge's top feature
    contributions under the model that scored the day, and every guardrail that touched the
    components (over-merge split, generic login, opt-out, feedback cannot-link)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from idgraph.explain import explain as run_explain
    from idgraph.explain import render, sample_link
    from idgraph.pipeline import build_session
    from spark_jobs.graph.explain import ExplainError

    setup_logging(verbose)
    day = parse_day(date)
    wanted = list(cookies or [])
    if sample == bool(wanted) or len(wanted) > 2:
        raise typer.BadParameter("give one or two cookies (SITE/COOKIE), or --sample")
    settings = load_settings(lake={"root": lake})
    started = time.perf_counter()
    spark = build_session(settings)
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
            console=err_console, transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task("starting", total=None)

            def on_step(what: str) -> None:
                progress.update(task, description=what)

            if sample:
                on_step("sampling a scored link")
                picked = sample_link(spark, settings, day)
                if picked is None:
                    console.print(f"no kept scored link on {day}: nothing to sample")
                    raise typer.Exit(code=1)
                wanted = picked
            result = run_explain(spark, settings, day, wanted, on_step=on_step)
    except ExplainError as exc:
        console.print(f"[bold red]cannot explain:[/] {exc}", soft_wrap=True)
        raise typer.Exit(code=1) from None
    finally:
        spark.stop()
    if as_json:
        typer.echo(json.dumps(result, default=str))
    else:
        # Cookie ids are long: a pipe or a log gets wide tables rather than truncated ids.
        out = console if console.is_terminal else Console(width=max(console.width, 160))
        for part in render(result):
            out.print(part)
    err_console.print(f"explain done in {time.perf_counter() - started:.0f}s")
