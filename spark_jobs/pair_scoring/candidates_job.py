"""Daily stage ``candidates``: ``cookie_features/dt=D`` -> ``candidate_pairs/dt=D``.

Run by the pipeline (``run_candidates``) or as an EMR step::

    spark-submit -m spark_jobs.pair_scoring.candidates_job --lake s3://bucket/lake --date 2026-11-05
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from idgraph.settings import AppSettings
from spark_jobs.common.io import partition_exists, read_partition, write_partition
from spark_jobs.common.paths import Lake
from spark_jobs.common.schemas import CANDIDATE_PAIRS, conform
from spark_jobs.common.stage import StageFailed, StageResult
from spark_jobs.pair_scoring.candidates import block_members, blocking_report, build_candidates

log = logging.getLogger(__name__)

STAGE = "candidates"


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
    summary = _summary(spark, lake, day, features.count(), report)
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
    for row in sorted(report, key=lambda r: r["key"]):
        summary[f"pairs_{row['key']}"] = int(by_key.get(row["key"], 0))
        summary[f"skipped_blocks_{row['key']}"] = int(row["skipped_blocks"])
        summary[f"skipped_cookies_{row['key']}"] = int(row["skipped_cookies"])
    return summary


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``spark-submit`` / EMR steps: ``--lake LAKE --date D``."""
    from idgraph.pipeline import stage_main

    stage_main(
        run_candidates,
        list(argv) if argv is not None else None,
        description=__doc__.splitlines()[0],
    )


if __name__ == "__main__":
    main()
