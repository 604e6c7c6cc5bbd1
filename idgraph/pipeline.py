"""Runs the daily stages in order for one day or a range of days, in one Spark session.

Each stage is ``fn(spark, settings, day) -> StageResult`` in its own package; this module only
sequences them, shows progress and collects their summaries. A stage that raises
``StageFailed`` stops the day: later stages (and publishing) do not run.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings
from idgraph.core.stage import StageFailed, StageResult
from spark_jobs.common.session import build_spark
from spark_jobs.etl.features_job import run_features
from spark_jobs.etl.job import run_etl
from spark_jobs.etl.panel import run_panel
from spark_jobs.graph.drain import run_drain
from spark_jobs.graph.job import run_graph
from spark_jobs.graph.publish import run_publish
from spark_jobs.pair_scoring.candidates_job import run_candidates
from spark_jobs.pair_scoring.scoring_job import run_scoring

log = logging.getLogger(__name__)

StageFn = Callable[..., StageResult]
Stage = tuple[str, StageFn]

# (stage name, run function), in the order a day runs them.
DAILY_STAGES: tuple[Stage, ...] = (
    ("etl", run_etl),
    ("panel", run_panel),
    ("features", run_features),
    ("candidates", run_candidates),
    ("scoring", run_scoring),
    ("graph", run_graph),
)
PUBLISH_STAGE: Stage = ("publish", run_publish)
# Before a published day's chain: the service's opt-outs and verdicts into the lake, so the
# day's graph honours everything received before it started (only jobs that publish see Redis).
DRAIN_STAGE: Stage = ("drain", run_drain)


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
    stages: Sequence[Stage] = DAILY_STAGES,
    progress: Progress | None = None,
    stage_kwargs: dict[str, dict[str, Any]] | None = None,
) -> DayReport:
    """Run ``stages`` for ``day``; stop at the first failure and record it."""
    report = DayReport(day=day)
    task = progress.add_task(f"{day}", total=len(stages)) if progress else None
    for name, run in stages:
        if progress is not None and task is not None:
            progress.update(task, description=f"{day} {name}")
        started = time.perf_counter()
        try:
            result = run(spark, settings, day, **(stage_kwargs or {}).get(name, {}))
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
    return build_spark(settings.spark, checkpoint_dir=Lake(settings.lake.root).checkpoints)
