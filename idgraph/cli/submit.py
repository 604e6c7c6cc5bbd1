"""Command: ``submit`` — run a stage, the daily chain or training on local Spark or EMR."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from idgraph.cli.app import app
from idgraph.cli.common import DateOpt, console, err_console, fmt, parse_day, setup_logging
from idgraph.core.redaction import redact
from idgraph.core.settings import load_settings
from idgraph.core.stage import STAGE_CHOICES
from idgraph.submit import JobOutcome, SubmitFailed, Target, plan_jobs, run_jobs


def _rows(outcomes: list[JobOutcome]) -> list[tuple[str, str, str, str]]:
    rows = []
    for outcome in outcomes:
        for result in outcome.results or [{"stage": outcome.job.stage, "summary": {}}]:
            figures = ", ".join(f"{k}={fmt(v)}" for k, v in result.get("summary", {}).items())
            rows.append((outcome.job.stage, result["stage"], outcome.state, figures))
    return rows


def _markdown(outcomes: list[JobOutcome], failure: JobOutcome | None) -> str:
    lines = ["| job | stage | state | figures |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(outcomes)]
    if failure is not None:
        lines += [
            "",
            f"**{failure.job.name} {failure.state}:** {redact(failure.reason)}",
            f"Logs: `{failure.log_location}`",
        ]
    return "\n".join(lines) + "\n"


def _print(outcomes: list[JobOutcome], seconds: float) -> None:
    from rich.table import Table

    table = Table(title="idgraph submit", title_justify="left")
    for column in ("job", "stage", "state", "figures"):
        table.add_column(column)
    for row in _rows(outcomes):
        table.add_row(*row)
    console.print(table)
    console.print(f"{len(outcomes)} job(s) succeeded in {seconds:.0f}s")


@app.command()
def submit(
    stage: Annotated[str, typer.Option(help=f"One of: {', '.join(STAGE_CHOICES)}.")],
    date: DateOpt,
    target: Annotated[Target, typer.Option(help="local: spark-submit here; emr: Serverless.")],
    lake: Annotated[
        str | None, typer.Option(help="Lake root (path or s3://); default IDGRAPH_LAKE_ROOT.")
    ] = None,
    publish: Annotated[bool, typer.Option(help="daily: publish after the chain.")] = True,
    force: Annotated[bool, typer.Option(help="Publish even if the graph gate failed.")] = False,
    break_lock: Annotated[
        bool,
        typer.Option(
            "--break-lock",
            help="Drain/publish: remove a dead publisher's lock first (daily: at its drain).",
        ),
    ] = False,
    redis_url: Annotated[str | None, typer.Option(help="Publish target (local).")] = None,
    code_version: Annotated[
        str | None, typer.Option(help="emr: artifacts sub-prefix to run (e.g. a commit SHA).")
    ] = None,
    summary_md: Annotated[
        Path | None, typer.Option(help="Append a Markdown summary here ($GITHUB_STEP_SUMMARY).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a stage, the daily chain (``daily``) or training (``train``) as Spark jobs."""
    import time

    setup_logging(verbose)
    day = parse_day(date)
    aws: dict[str, Any] = {"code_version": code_version}
    settings = load_settings(lake={"root": lake}, redis={"url": redis_url}, aws=aws)
    try:
        jobs = plan_jobs(
            stage,
            day,
            settings.lake.root,
            publish=publish,
            force=force,
            break_lock=break_lock,
            redis_url=settings.redis.url if target is Target.local else None,
            redis_url_secret_id=settings.aws.redis_url_secret_id if target is Target.emr else None,
            redis_cluster=settings.redis.cluster or target is Target.emr,
            region=settings.aws.region if target is Target.emr else None,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--stage") from exc

    started = time.perf_counter()
    failure: JobOutcome | None = None
    outcomes: list[JobOutcome] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        tasks: dict[str, Any] = {}

        def on_start(job: Any) -> None:
            tasks[job.name] = progress.add_task(f"{job.name} ({target.value}) SUBMITTED")

        def on_state(job: Any, state: str) -> None:
            progress.update(tasks[job.name], description=f"{job.name} ({target.value}) {state}")

        try:
            outcomes = run_jobs(
                jobs, target, settings, on_start=on_start, on_state=on_state,
                echo=(lambda line: progress.console.print(redact(line))) if verbose else None,
            )  # fmt: skip
        except SubmitFailed as exc:
            failure = exc.outcome
            outcomes = [*getattr(exc, "completed", []), exc.outcome]
        except ValueError as exc:  # missing EMR configuration
            err_console.print(f"[bold red]cannot submit:[/] {exc}")
            raise typer.Exit(code=2) from exc
    if summary_md is not None:
        with summary_md.open("a", encoding="utf-8") as fh:
            fh.write(_markdown(outcomes, failure))
    _print(outcomes if failure is None else outcomes[:-1], time.perf_counter() - started)
    if failure is not None:
        err_console.print(
            f"[bold red]{failure.job.name} {failure.state}[/] (job {failure.job_id}): "
            f"{redact(failure.reason)}\n  logs: {failure.log_location}"
        )
        raise typer.Exit(code=1)
