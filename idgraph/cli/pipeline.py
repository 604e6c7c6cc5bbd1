"""Commands: ``daily`` and ``backfill`` (the daily stages in order, one Spark session)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from idgraph.cli.app import app
from idgraph.cli.common import DateOpt, LakeOpt, console, parse_day, setup_logging, summary_table
from idgraph.core.redaction import redact
from idgraph.core.settings import load_settings


def _print_day(report) -> None:  # type: ignore[no-untyped-def]
    rows: list[tuple[str, object]] = []
    for result in report.results:
        if result.skipped:
            rows.append((f"{result.stage}", f"skipped: {result.note}"))
            continue
        for key, value in result.summary.items():
            rows.append((f"{result.stage}.{key}", value))
    console.print(summary_table(f"idgraph day {report.day}", rows))
    console.print("seconds per stage: " + ", ".join(f"{k} {v}" for k, v in report.seconds.items()))
    for result in report.results:
        degraded = str(result.summary.get("degraded", "no"))
        if degraded != "no":
            console.print(
                f"[bold red]{report.day} is {degraded}[/]\n[red]the publish gate refuses a "
                "degraded graph; --force publishes it anyway[/]"
            )
    if report.failed:
        console.print(f"[bold red]FAILED at stage {report.failed}:[/] {redact(report.error or '')}")


@app.command()
def daily(
    lake: LakeOpt,
    date: DateOpt,
    redis_url: Annotated[
        str | None, typer.Option(help="Redis/Valkey to publish to; default: embedded server.")
    ] = None,
    publish: Annotated[bool, typer.Option(help="Publish to Redis after the graph.")] = True,
    force: Annotated[bool, typer.Option(help="Publish even if the gate fails.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run every daily stage for one day, then publish the graph (gate permitting)."""
    from idgraph.pipeline import (
        DAILY_STAGES,
        DRAIN_STAGE,
        PUBLISH_STAGE,
        build_session,
        make_progress,
        run_day,
    )

    setup_logging(verbose)
    day = parse_day(date)
    settings = load_settings(lake={"root": lake}, redis={"url": redis_url})
    started = time.perf_counter()
    spark = build_session(settings)
    stages = ((DRAIN_STAGE,) + DAILY_STAGES + (PUBLISH_STAGE,)) if publish else DAILY_STAGES
    with make_progress() as progress:
        report = run_day(
            spark,
            settings,
            day,
            stages=stages,
            progress=progress,
            stage_kwargs={"publish": {"force": force}},
        )
    _print_day(report)
    console.print(
        f"day {day} {'done' if report.ok else 'FAILED'} in {time.perf_counter() - started:.0f}s"
    )
    spark.stop()
    if not report.ok:
        raise typer.Exit(code=1)


@app.command()
def backfill(
    lake: LakeOpt,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day, YYYY-MM-DD (inclusive).")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the daily stages for every day of a range, in date order, without publishing."""
    from idgraph.pipeline import build_session, day_range, make_progress, run_day

    setup_logging(verbose)
    days = day_range(parse_day(start, name="start"), parse_day(end, name="end"))
    settings = load_settings(lake={"root": lake})
    started = time.perf_counter()
    spark = build_session(settings)
    reports = []
    with make_progress() as progress:
        overall = progress.add_task("backfill", total=len(days))
        for day in days:
            report = run_day(spark, settings, day, progress=progress)
            reports.append(report)
            progress.advance(overall)
            if not report.ok:
                break
    for report in reports:
        _print_day(report)
    ok = all(r.ok for r in reports) and len(reports) == len(days)
    console.print(
        f"backfill {days[0]}..{days[-1]}: {sum(r.ok for r in reports)}/{len(days)} days ok "
        f"in {time.perf_counter() - started:.0f}s"
    )
    spark.stop()
    if not ok:
        raise typer.Exit(code=1)


@app.command()
def demo(
    lake: LakeOpt = "demo-lake",
    days: Annotated[int, typer.Option(help="Days of simulated history.")] = 7,
    people: Annotated[int, typer.Option(help="People in the simulated world.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 7,
    serve: Annotated[bool, typer.Option(help="Finish with lookups against the service.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """The whole story on embedded defaults: simulate, backfill, train, publish, serve."""
    import datetime as dt
    import shutil

    from idgraph import demo as story
    from idgraph.pipeline import (
        DAILY_STAGES,
        PUBLISH_STAGE,
        build_session,
        day_range,
        make_progress,
        run_day,
    )
    from idgraph.simulator import simulate

    setup_logging(verbose)
    plan = story.DemoPlan(days=days, people=people, seed=seed)
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        timings[name] = round(now - since, 1)
        return now

    console.rule("1/6 simulate")
    shutil.rmtree(lake, ignore_errors=True)
    sim = simulate(
        lake, plan.start, plan.simulated_days, plan.people, plan.seed, bad_rate=plan.bad_rate
    )
    console.print(f"simulated {sim}")
    t = lap("simulate", started)

    settings = story.settings_for(lake)
    spark = build_session(settings)
    history = day_range(plan.start, plan.last_day - dt.timedelta(days=1))
    console.rule(f"2/6 backfill {history[0]}..{history[-1]} (no model yet)")
    with make_progress() as progress:
        overall = progress.add_task("backfill", total=len(history))
        for day in history:
            report = run_day(spark, settings, day, progress=progress)
            progress.advance(overall)
            if not report.ok:
                _print_day(report)
                raise typer.Exit(code=1)
    _print_day(report)
    t = lap("backfill", t)

    console.rule(f"3/6 train the first model as of {history[-1]}")
    from training.train import run_training

    trained = run_training(spark, settings, history[-1])
    console.print(summary_table("training", trained.summary))
    t = lap("train", t)

    console.rule(f"4/6 daily run of {plan.last_day} with the champion, then publish")
    report = run_day(
        spark,
        settings,
        plan.last_day,
        stages=DAILY_STAGES + (PUBLISH_STAGE,),
        stage_kwargs={"publish": {"force": False}},
    )
    _print_day(report)
    if report.failed == "publish" and "gate" in (report.error or ""):
        # The first day with a champion moves many singletons into probabilistic
        # components: the churn check is meant to stop that in production until an
        # operator has looked. The demo shows the verdict, then overrides it explicitly.
        console.print(
            "[bold yellow]demo:[/] the gate refused the first day with a model (see above); "
            "publishing with --force, as an operator would after reading the health"
        )
        report = run_day(
            spark,
            settings,
            plan.last_day,
            stages=(PUBLISH_STAGE,),
            stage_kwargs={"publish": {"force": True}},
        )
        _print_day(report)
    if not report.ok:
        raise typer.Exit(code=1)
    t = lap("daily", t)

    console.rule("5/6 evaluate against the simulator's ground truth")
    from training.evaluate import run_evaluation

    # Into the demo's lake (the default, <lake>/evaluation/<D>.json), never over the committed
    # benchmarks/results/eval.json, which only `make eval` writes.
    run_evaluation(spark, settings, plan.last_day)
    spark.stop()
    t = lap("evaluate", t)

    if serve:
        console.rule("6/6 lookups against the live service")
        port = story._free_port()
        proc = story.start_service(lake, port)
        try:
            figures = story.lookups(console, lake, plan.last_day, port)
            console.rule("6/6 feedback: report a wrong link over HTTP, run the next day")
            figures |= story.feedback_step(console, lake, plan.last_day, port)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        console.print(summary_table("service", figures))
        t = lap("serve", t)
    console.print(summary_table("demo timings (s)", timings))
    console.print(f"demo done in {time.perf_counter() - started:.0f}s; lake at {lake}")
