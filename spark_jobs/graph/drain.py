"""The drain stage: what the lookup service recorded since the last publish, into the lake,
before the day's chain reads it.

The service appends opt-outs and feedback verdicts to Redis streams and answers at once; the
lake tables ``optouts`` and ``feedback`` are what every job reads. The publish stage drains
both streams (so nothing recorded before a publish is lost), but a verdict sent after the
publish of day D-1 would then reach only the graph of D+1. ``idgraph daily`` (and ``idgraph
submit --stage daily``) therefore runs this stage first: the same idempotent drains, into the
partitions of day D, so the graph of D honours every verdict received before it started.
Like publish, it is the only kind of job that is given the Redis address, and like publish it
runs under the publish lock (two drains, or a drain and a publish, rewriting one partition at
once would lose entries); ``break_lock`` removes a stuck holder's lock first.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession

from idgraph.core import versions
from idgraph.core.settings import AppSettings
from idgraph.core.stage import StageFailed, StageResult
from spark_jobs.common.feedback_drain import drain_feedback
from spark_jobs.common.optouts_drain import drain_optouts
from spark_jobs.graph.lock import locked_target

STAGE = "drain"


def drain_streams(
    spark: SparkSession,
    settings: AppSettings,
    target: versions.RedisTarget,
    *,
    optouts_day: dt.date,
    feedback_day: dt.date,
) -> tuple[int, dict[str, int]]:
    """Drain the opt-out stream into ``optouts/dt=optouts_day`` and the feedback stream into
    ``feedback/dt=feedback_day``, over one client; the caller holds the publish lock.

    Returns:
        The opt-outs drained, and the feedback drain's figures.
    """
    client = target.client()
    try:
        optouts = drain_optouts(spark, settings, optouts_day, client=client)
        feedback = drain_feedback(spark, settings, feedback_day, client=client)
    finally:
        client.close()
    return optouts, feedback


def run_drain(
    spark: SparkSession, settings: AppSettings, day: dt.date, *, break_lock: bool = False
) -> StageResult:
    """Drain the opt-out and feedback streams into ``optouts/dt=day`` and ``feedback/dt=day``.

    Args:
        break_lock: remove the publish lock first, whoever holds it (see ``run_publish``).

    Raises:
        StageFailed: another publish or drain holds the lock, or this one lost it meanwhile.
    """
    locked = locked_target(spark, settings, day, stage=STAGE, break_lock=break_lock)
    with locked as (target, lease, broken):
        try:
            optouts, feedback = drain_streams(
                spark, settings, target, optouts_day=day, feedback_day=day
            )
        except Exception as exc:
            if lease.lost is not None:  # the heartbeat cancelled our Spark jobs
                raise StageFailed(STAGE, f"lost the publish lock ({lease.lost})") from exc
            raise
        try:
            lease.check()
        except versions.LockLost as exc:
            raise StageFailed(STAGE, str(exc)) from exc
    summary = {"optouts_drained": optouts, **feedback, "lock_broken": broken}
    return StageResult(
        STAGE,
        summary=summary,
        note=f"{optouts} opt-outs and {feedback['feedback_drained']} verdicts drained",
    )
