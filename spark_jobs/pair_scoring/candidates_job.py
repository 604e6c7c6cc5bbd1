"""Daily stage ``candidates``: ``cookie_features/dt=D`` (+ the window's ``session_pairs``)
-> ``candidate_pairs/dt=D``.

The day's ``session_pairs/dt=D`` (hops and quiet-IP co-presence, from ``visits/dt=D``) is
written first, with any day of the window whose visits exist but whose session pairs do not.

``run_candidates`` is run by ``idgraph daily``/``backfill`` and by the spark-submit entry point
(``spark_jobs/entrypoint.py --stage candidates``), the one file EMR runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings
from idgraph.core.settings.pairs import PairSettings
from idgraph.core.stage import StageFailed, StageResult
from spark_jobs.common.io import (
    list_partitions,
    partition_exists,
    read_partition,
    read_range,
    write_partition,
)
from spark_jobs.common.schemas import CANDIDATE_PAIRS, conform
from spark_jobs.pair_scoring.candidates import block_members, blocking_report, build_candidates
from spark_jobs.pair_scoring.session_evidence import (
    SESSION_KEY,
    daily_session_pairs,
    skipped_ip_days,
    window_evidence,
)

log = logging.getLogger(__name__)

STAGE = "candidates"
SESSION_TABLE = "session_pairs"


def ensure_session_pairs(
    spark: SparkSession, lake: Lake, day: dt.date, *, window_days: int, cfg: PairSettings
) -> dict[str, int]:
    """Write ``session_pairs`` for ``day`` and for every earlier day of the window that has
    visits but no session pairs (all in one pass; each day from its own visits only).

    Returns:
        ``session_days_built`` and, for ``day``, ``skipped_ip_days`` / ``skipped_ip_day_cookies``
        (quiet IP-days with too many cookies for co-presence).
    """
    start = day - dt.timedelta(days=window_days - 1)
    visit_days = {d for d in list_partitions(spark, lake, "visits") if start <= d <= day}
    if day not in visit_days:
        return {"session_days_built": 0, "skipped_ip_days": 0, "skipped_ip_day_cookies": 0}
    have = {d for d in list_partitions(spark, lake, SESSION_TABLE) if start <= d <= day}
    to_build = sorted(d for d in visit_days if d == day or d not in have)
    log.info("building %s for %s", SESSION_TABLE, ", ".join(map(str, to_build)))
    visits = (
        spark.read.option("basePath", lake.table("visits"))
        .parquet(*[lake.partition("visits", d) for d in to_build])
        .withColumn("dt", F.col("dt").cast("string"))
    )
    knobs = {
        "quiet_ip_max_user_agents": cfg.quiet_ip_max_user_agents,
        "max_cookies_per_ip_day": cfg.session_max_cookies_per_ip_day,
    }
    daily = daily_session_pairs(
        visits, day_col="dt", max_gap_seconds=cfg.session_max_gap_seconds, **knobs
    )
    (
        daily.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy("dt")
        .parquet(lake.table(SESSION_TABLE))
    )
    skipped = skipped_ip_days(read_partition(spark, lake, "visits", day), **knobs).first()
    return {
        "session_days_built": len(to_build),
        "skipped_ip_days": int(skipped["skipped_ip_days"]) if skipped else 0,
        "skipped_ip_day_cookies": int(skipped["skipped_cookies"]) if skipped else 0,
    }


def read_window_evidence(
    spark: SparkSession, lake: Lake, day: dt.date, *, window_days: int
) -> DataFrame | None:
    """The window's session evidence per pair (``window_evidence``), None without any day."""
    start = day - dt.timedelta(days=window_days - 1)
    try:
        daily = read_range(spark, lake, SESSION_TABLE, start, day)
    except FileNotFoundError:
        return None
    return window_evidence(daily)


def run_candidates(spark: SparkSession, settings: AppSettings, day: dt.date) -> StageResult:
    """Build and write the day's candidate pairs; summarise what blocking kept and skipped.

    Raises:
        StageFailed: when ``cookie_features/dt=D`` does not exist.
    """
    lake = Lake(settings.lake.root)
    cfg = settings.pairs
    if not partition_exists(spark, lake, "cookie_features", day):
        raise StageFailed(STAGE, f"no cookie_features for {day}: run the features stage first")
    features = read_partition(spark, lake, "cookie_features", day)
    window = settings.etl.feature_window_days
    session: dict[str, int] = {}
    evidence = None
    if cfg.session_evidence:
        session = ensure_session_pairs(spark, lake, day, window_days=window, cfg=cfg)
        evidence = read_window_evidence(spark, lake, day, window_days=window)
    # Read twice (pairs and report): keep the exploded memberships instead of re-exploding.
    members = block_members(
        features,
        keys=cfg.blocking_keys,
        term_block_prefixes=cfg.term_block_prefixes,
        term_block_terms=cfg.term_block_terms,
    ).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        pairs = build_candidates(
            features,
            max_block_size=cfg.max_block_size,
            block_size_overrides=cfg.block_size_overrides,
            keys=cfg.blocking_keys,
            max_pairs_per_cookie=cfg.max_pairs_per_cookie,
            members=members,
            evidence=evidence,
        )
        write_partition(
            conform(pairs, CANDIDATE_PAIRS, table="candidate_pairs"), lake, "candidate_pairs", day
        )
        report = blocking_report(
            members,
            max_block_size=cfg.max_block_size,
            block_size_overrides=cfg.block_size_overrides,
        ).collect()  # one row per blocking key
    finally:
        members.unpersist()
    summary = _summary(spark, lake, day, features.count(), report) | session
    log.info("candidates %s: %s", day, summary)
    return StageResult(STAGE, summary)


def _summary(
    spark: SparkSession, lake: Lake, day: dt.date, cookies: int, report: list[Any]
) -> dict[str, Any]:
    written = read_partition(spark, lake, "candidate_pairs", day)
    by_key = {
        r["key"]: r["n"]
        for r in written.select(F.explode("blocking_keys").alias("key"))
        .groupBy("key")
        .agg(F.count("*").alias("n"))
        .collect()  # one row per blocking key
    }
    degrees = (
        written.select(
            F.explode(
                F.array(
                    F.struct(F.col("site_id_l").alias("s"), F.col("cookie_id_l").alias("c")),
                    F.struct(F.col("site_id_r").alias("s"), F.col("cookie_id_r").alias("c")),
                )
            ).alias("cookie")
        )
        .groupBy("cookie")
        .count()
    )
    stats = degrees.agg(F.max("count").alias("max"), F.count("*").alias("paired")).first()
    n_pairs = written.count()
    summary: dict[str, Any] = {
        "cookies": cookies,
        "candidate_pairs": n_pairs,
        "pairs_per_cookie": round(n_pairs / cookies, 2) if cookies else 0.0,
        "cookies_with_pairs": int(stats["paired"]) if stats else 0,
        "max_pairs_of_a_cookie": int(stats["max"] or 0) if stats else 0,
    }
    summary[f"pairs_{SESSION_KEY}"] = int(by_key.get(SESSION_KEY, 0))
    for row in sorted(report, key=lambda r: r["key"]):
        summary[f"pairs_{row['key']}"] = int(by_key.get(row["key"], 0))
        summary[f"skipped_blocks_{row['key']}"] = int(row["skipped_blocks"])
        summary[f"skipped_cookies_{row['key']}"] = int(row["skipped_cookies"])
    return summary
