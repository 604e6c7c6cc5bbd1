"""Runs the daily stages in order for one day or a range of days, in one Spark session.

Each stage is ``fn(spark, settings, day) -> StageResult`` in its own package; this module only
sequences them, shows progress and collects their summaries. A stage that raises
``StageFailed`` stops the day: later stages (and publishing) do not run.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from idgraph.settings import AppSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from spark_jobs.common.stage import StageResult

log = logging.getLogger(__name__)

# (stage name, "module:function"), in the order a day runs them.
DAILY_STAGES: tuple[tuple[str, str], ...] = (
    ("etl", "spark_jobs.etl.job:run_etl"),
    ("panel", "spark_jobs.etl.panel:run_panel"),
    ("features", "spark_jobs.etl.features_job:run_features"),
    ("candidates", "spark_jobs.pair_scoring.candidates_job:run_candidates"),
    ("scoring", "spark_jobs.pair_scoring.scoring_job:run_scoring"),
    ("graph", "spark_jobs.graph.job:run_graph"),
)
PUBLISH_STAGE = ("publish", "spark_jobs.graph.publish:run_publish")
# Before a published day's chain: the service's opt-outs and verdicts into the lake, so the
# day's graph honours everything received before it started (only jobs that publish see Redis).
DRAIN_STAGE = ("drain", "spark_jobs.graph.drain:run_drain")

StageFn = Callable[..., "StageResult"]


def resolve(target: str) -> StageFn:
    """Import ``module:function``."""
    module_name, _, fn_name = target.partition(":")
    return getattr(importlib.import_module(module_name), fn_name)  # type: ignore[no-any-return]


@dataclass
class DayReport:
    """What happened to one day."""

    day: dt.date
    results: list[StageResult] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    failed: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.failed is None


def run_day(
    spark: SparkSession,
    settings: AppSettings,
    day: dt.date,
    *,
    stages: Sequence[tuple[str, str]] = DAILY_STAGES,
    progress: Progress | None = None,
    stage_kwargs: dict[str, dict[str, Any]] | None = None,
) -> DayReport:
    """Run ``stages`` for ``day``; stop at the first failure and record it."""
    from spark_jobs.common.stage import StageFailed

    report = DayReport(day=day)
    task = progress.add_task(f"{day}", total=len(stages)) if progress else None
    for name, target in stages:
        if progress is not None and task is not None:
            progress.update(task, description=f"{day} {name}")
        started = time.perf_counter()
        try:
            result = resolve(target)(spark, settings, day, **(stage_kwargs or {}).get(name, {}))
        except StageFailed as exc:
            report.failed, report.error = name, str(exc)
            log.error("%s: stage %s failed: %s", day, name, exc)
            break
        finally:
            report.seconds[name] = round(time.perf_counter() - started, 1)
        report.results.append(result)
        log.info("%s %s done in %.1fs: %s", day, name, report.seconds[name], result.summary)
        if progress is not None and task is not None:
            progress.advance(task)
    return report


def day_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end`` inclusive."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def make_progress() -> Progress:
    """The progress display used by long commands."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        transient=False,
    )


def build_session(settings: AppSettings) -> SparkSession:
    """The job's SparkSession, checkpointing under the lake."""
    from spark_jobs.common.paths import Lake
    from spark_jobs.common.session import build_spark

    return build_spark(settings.spark, checkpoint_dir=Lake(settings.lake.root).checkpoints)


def stage_main(
    run: StageFn,
    argv: list[str] | None,
    *,
    description: str,
    date_flags: Sequence[str] = ("--date",),
) -> StageResult:
    """The spark-submit entry point shared by stage modules: parse ``--lake`` and the date,
    load settings, build the session, run, print the result as one JSON line, stop."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lake", required=True, help="Lake root (path or s3://).")
    parser.add_argument(*date_flags, dest="day", required=True, help="YYYY-MM-DD")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    from idgraph.settings import load_settings

    settings = load_settings(lake={"root": args.lake})
    spark = build_session(settings)
    from spark_jobs.common.stage import StageFailed

    try:
        result = run(spark, settings, dt.date.fromisoformat(args.day))
        summary = {"stage": result.stage, "skipped": result.skipped, "note": result.note}
        print(json.dumps(summary | result.summary, default=str))  # the step log
    except StageFailed as exc:  # one readable line in the step log, and a failed step
        print(json.dumps({"stage": exc.stage, "failed": exc.message}))
        raise SystemExit(1) from exc
    finally:
        spark.stop()
    return result
