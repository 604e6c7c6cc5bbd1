"""The publish lock as the Redis stages take it: ``publish`` and ``drain``.

Both rewrite lake partitions from the service's streams (``optouts/dt=D``, ``feedback/dt=D``:
read what is there, add the drained entries, overwrite), and publish also writes a version and
switches the live pointer, so one of them runs at a time. The lock itself (owner token, TTL,
heartbeat) is ``versions.PublishLease``; this module turns a held lock into a one-line
``StageFailed`` of the stage and implements ``--break-lock``; ``locked_target`` is both stages'
way in: the target, the lock broken if asked, then taken.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator

from pyspark.sql import SparkSession

from idgraph.core import versions
from idgraph.core.embedded import redis_target
from idgraph.core.settings import AppSettings
from idgraph.core.stage import StageFailed

log = logging.getLogger(__name__)


def break_publish_lock(target: versions.RedisTarget) -> str:
    """Remove the publish lock whoever holds it; say whom it was taken from (``-``: free)."""
    client = target.client()
    try:
        holder = versions.break_lock(client)
    finally:
        client.close()
    broken = holder.describe() if holder else "-"
    log.warning("broke the publish lock: %s", broken if holder else "it was free")
    return broken


@contextlib.contextmanager
def stage_lock(
    spark: SparkSession,
    settings: AppSettings,
    target: versions.RedisTarget,
    day: dt.date,
    *,
    stage: str,
) -> Iterator[versions.PublishLease]:
    """The publish lock for the block; a held lock is a one-line ``StageFailed`` of ``stage``.

    Losing the lock while the block runs cancels the session's Spark jobs (stop writing what
    nobody owns any more); the block sees it through ``lease.lost`` / ``lease.check()``.
    """
    try:
        with versions.publish_lock(
            target,
            ttl_s=settings.redis.publish_lock_ttl_s,
            day=day.isoformat(),
            stage=stage,
            on_lost=spark.sparkContext.cancelAllJobs,
        ) as lease:
            yield lease
    except versions.LockHeld as exc:
        raise StageFailed(stage, str(exc)) from None


@contextlib.contextmanager
def locked_target(
    spark: SparkSession,
    settings: AppSettings,
    day: dt.date,
    *,
    stage: str,
    break_lock: bool,
) -> Iterator[tuple[versions.RedisTarget, versions.PublishLease, str]]:
    """The Redis target of ``settings`` (an embedded server while the block runs, where none
    is configured) with the publish lock held for ``stage`` (``stage_lock``).

    Args:
        break_lock: remove the publish lock first, whoever holds it (``break_publish_lock``).

    Yields:
        The target, the held lease, and whom a broken lock was taken from (``-``: none).
    """
    with redis_target(settings) as url:
        target = versions.RedisTarget(url, cluster=settings.redis.cluster)
        broken = break_publish_lock(target) if break_lock else "-"
        with stage_lock(spark, settings, target, day, stage=stage) as lease:
            yield target, lease, broken
