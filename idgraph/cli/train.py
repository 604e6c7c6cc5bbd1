"""Commands: ``train`` (weekly champion/challenger) and ``evaluate`` (quality vs. truth)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from idgraph.cli.app import app
from idgraph.cli.common import DateOpt, LakeOpt, console, parse_day, setup_logging, summary_table
from idgraph.core.settings import load_settings


@app.command()
def train(
    lake: LakeOpt,
    as_of: Annotated[str, typer.Option("--as-of", help="Training day, YYYY-MM-DD.")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Train a challenger on the history up to --as-of; promote it only if it beats the champion."""
    from idgraph.pipeline import build_session, make_progress
    from training.train import TrainingFailed, run_training

    setup_logging(verbose)
    day = parse_day(as_of, name="as-of")
    settings = load_settings(lake={"root": lake})
    started = time.perf_counter()
    spark = build_session(settings)
    try:
        with make_progress() as progress:
            task = progress.add_task("snapshots", total=settings.training.max_training_days)

            def on_snapshot(i: int, total: int, snapshot: Any, counts: dict[str, int]) -> None:
                progress.update(
                    task,
                    completed=i + 1,
                    total=total,
                    description=f"{snapshot}: {counts['positives'] + counts['negatives']:,} "
                    f"examples ({counts['positives']:,} positive)",
                )

            result = run_training(spark, settings, day, on_snapshot=on_snapshot)
    except TrainingFailed as exc:
        # One line whatever the terminal's width: operators grep for it and alerts quote it.
        console.print(f"[bold red]{exc.message}[/]", soft_wrap=True)
        console.print(
            f"the failure is recorded in {settings.lake.root}/training/decisions; "
            f"train failed after {time.perf_counter() - started:.0f}s"
        )
        raise typer.Exit(code=1) from None
    finally:
        spark.stop()
    console.print(summary_table(f"idgraph train as of {day}", result.summary))
    if result.skipped:
        console.print(f"[bold yellow]no model trained:[/] {result.note}")
    elif result.summary.get("promoted"):
        console.print(f"[bold green]model v{result.summary['model_version']} is the champion[/]")
    else:
        console.print(
            f"model v{result.summary['model_version']} stays challenger: "
            f"{result.summary['decision']}"
        )
    console.print(f"train done in {time.perf_counter() - started:.0f}s")


@app.command()
def evaluate(
    lake: LakeOpt,
    date: DateOpt,
    out: Annotated[
        str | None,
        typer.Option(help="JSON file for the figures (default: LAKE/evaluation/D.json)."),
    ] = None,
    hide_logins: Annotated[
        float | None,
        typer.Option(
            "--hide-logins",
            min=0.0,
            max=1.0,
            help="Also hide the logins of this share of the logged-in people, rebuild the day "
            "without them and measure what the graph recovers (needs no truth).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Picks the hidden logins (--hide-logins).")] = 1,
    work_lake: Annotated[
        str | None,
        typer.Option(help="Work lake of the --hide-logins rebuild (default: under the lake)."),
    ] = None,
    keep_work_lake: Annotated[
        bool, typer.Option(help="Keep the --hide-logins work lake for inspection.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Quality of the day's graph: against the simulator's truth (pairwise, anonymous reach,
    pair kinds, baselines) and, with --hide-logins, on people whose logins it never sees."""
    from idgraph.core.lake import Lake
    from idgraph.core.stage import StageFailed
    from idgraph.pipeline import build_session, make_progress
    from training.evaluate import render, run_evaluation

    setup_logging(verbose)
    day = parse_day(date)
    settings = load_settings(lake={"root": lake})
    # Under the lake, never over benchmarks/results/eval.json: `make eval` writes that one.
    out = out or Lake(settings.lake.root).evaluation(day)
    started = time.perf_counter()
    spark = build_session(settings)
    try:
        with make_progress() as progress:
            task = progress.add_task("hidden logins", total=None, visible=hide_logins is not None)

            def on_step(step: str, done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, description=step)

            result = run_evaluation(
                spark,
                settings,
                day,
                out=out,
                hide_logins=hide_logins,
                seed=seed,
                work_root=work_lake,
                keep_work_lake=keep_work_lake,
                on_step=on_step,
                show=False,
            )
            if hide_logins is not None:
                progress.update(task, description="hidden logins done")
    except (FileNotFoundError, ValueError, StageFailed) as exc:
        console.print(f"[bold red]cannot evaluate:[/] {exc}", soft_wrap=True)
        raise typer.Exit(code=1) from exc
    finally:
        spark.stop()
    console.print(render(result))
    met = [t["met"] for t in result["targets"].values() if t["met"] is not None]
    console.print(
        f"evaluation written to {out} in {time.perf_counter() - started:.0f}s: "
        f"{sum(met)} of {len(met)} measured targets met"
    )
