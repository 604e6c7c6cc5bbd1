"""Daily stage ``scoring``: candidates + features + champion -> ``scored_pairs/dt=D``.

With no champion yet the day gets an explicit, empty ``scored_pairs/dt=D`` partition (schema
``SCORED_PAIRS``, zero rows): the graph then links deterministically only, and anyone reading
the lake can tell "no model" from "stage not run".

``run_scoring`` is run by ``idgraph daily``/``backfill`` and by the spark-submit entry point
(``spark_jobs/entrypoint.py --stage scoring``), the one file EMR runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from idgraph.core.lake import Lake
from idgraph.core.model_registry import load_champion
from idgraph.core.settings import AppSettings
from idgraph.core.stage import StageFailed, StageResult
from spark_jobs.common.io import partition_exists, read_partition, write_partition
from spark_jobs.common.schemas import PAIR_KEYS, SCORED_PAIRS, conform
from spark_jobs.pair_scoring.pair_features import build_pair_features
from spark_jobs.pair_scoring.scoring import broadcast_booster, score_pairs
from spark_jobs.pair_scoring.session_evidence import evidence_present

log = logging.getLogger(__name__)

STAGE = "scoring"
NO_CHAMPION = "no champion model yet: deterministic links only"
QUANTILES = (0.5, 0.9, 0.99)


def score_candidates(
    pair_features: DataFrame,
    *,
    booster: Any,
    feature_columns: list[str],
    threshold: float,
    model_version: str,
) -> DataFrame:
    """Scored pairs (``SCORED_PAIRS``) from pair features and a broadcast booster."""
    scored = score_pairs(
        pair_features, booster=booster, feature_columns=feature_columns, keep=PAIR_KEYS
    )
    return scored.select(
        *PAIR_KEYS,
        "score",
        F.lit(float(threshold)).alias("threshold"),
        F.lit(str(model_version)).alias("model_version"),
    )


def write_empty(spark: SparkSession, lake: Lake, day: dt.date) -> None:
    """Replace day D with an empty partition that still carries the schema."""
    # write_partition (partitionBy) writes no directory for zero rows: write the day directly.
    spark.createDataFrame([], SCORED_PAIRS).coalesce(1).write.mode("overwrite").parquet(
        lake.partition("scored_pairs", day)
    )


def scoring_summary(scored: DataFrame) -> dict[str, Any]:
    """Pairs scored, pairs at or above the threshold, and score quantiles (one small row)."""
    row = scored.agg(
        F.count("*").alias("pairs_scored"),
        F.count(F.when(F.col("score") >= F.col("threshold"), 1)).alias("above_threshold"),
        F.percentile_approx("score", list(QUANTILES), 10_000).alias("q"),
    ).first()
    assert row is not None
    summary: dict[str, Any] = {
        "pairs_scored": int(row["pairs_scored"]),
        "above_threshold": int(row["above_threshold"]),
    }
    for q, value in zip(QUANTILES, row["q"] or [None] * len(QUANTILES), strict=True):
        summary[f"score_p{int(q * 100)}"] = None if value is None else round(float(value), 4)
    return summary


def run_scoring(
    spark: SparkSession,
    settings: AppSettings,
    day: dt.date,
    *,
    build_features: Callable[[DataFrame, DataFrame], DataFrame] | None = None,
) -> StageResult:
    """Score the day's candidate pairs with the champion and write ``scored_pairs/dt=D``.

    Args:
        build_features: pair feature builder; default ``pair_features.build_pair_features``.

    Raises:
        StageFailed: when the day's candidates or features are missing.
    """
    lake = Lake(settings.lake.root)
    for table in ("candidate_pairs", "cookie_features"):
        if not partition_exists(spark, lake, table, day):
            raise StageFailed(STAGE, f"no {table} for {day}: run the earlier stages first")
    champion = load_champion(settings)
    if champion is None:
        write_empty(spark, lake, day)
        log.warning("scoring %s: %s", day, NO_CHAMPION)
        return StageResult(STAGE, {"pairs_scored": 0}, skipped=True, note=NO_CHAMPION)
    if build_features is None:
        build_features = build_pair_features
    pairs = read_partition(spark, lake, "candidate_pairs", day)
    pairs = pairs.select(*PAIR_KEYS, *evidence_present(pairs.columns))
    features = read_partition(spark, lake, "cookie_features", day)
    scored = score_candidates(
        build_features(pairs, features),
        booster=broadcast_booster(spark, bytes(champion.booster.save_raw("ubj"))),
        feature_columns=champion.feature_columns,
        threshold=champion.threshold,
        model_version=champion.version,
    )
    write_partition(conform(scored, SCORED_PAIRS, table="scored_pairs"), lake, "scored_pairs", day)
    # Summarise the written partition rather than score twice.
    summary = {"model_version": champion.version, "threshold": round(champion.threshold, 4)}
    summary |= scoring_summary(read_partition(spark, lake, "scored_pairs", day))
    log.info("scoring %s: %s", day, summary)
    return StageResult(STAGE, summary)
