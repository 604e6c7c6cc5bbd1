"""Training examples built one snapshot at a time into a lake table, then read once.

Training reads up to ``max_training_days`` daily snapshots. Each snapshot is handled on its
own, with a plan that touches only that day's ``candidate_pairs`` and ``cookie_features``:

1. label the day's candidate pairs from login hashes and keep the labelled ones
   (``labelled_candidates``); candidate pairs are already capped per blocking key, so an
   exploding block (a CGNAT address, a shared office) cannot explode here either;
2. sample them down to ``max_examples_per_snapshot`` with a hash of the pair, so a pair kept
   on one day is kept on every day with at least the same rate (``sample_pairs``);
3. build the pair features of the sample from the same day's cookie features and write them
   to ``training_examples/run=<run>/snapshot=<day>/`` (``snapshot_path``).

Everything after that (counts per first-seen day, the split, one row per pair, fitting,
evaluation) reads that table (``select_examples``), so no plan ever holds a union of per-day
joins and the memory training needs grows with the examples, not with the snapshots.

A pair's split comes from the first snapshot in which it is labelled; its features come from
its latest labelled snapshot that does not look past the end of its own period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark_jobs.common.paths import Lake, day_str
from spark_jobs.common.schemas import PAIR_KEYS
from spark_jobs.pair_scoring.session_evidence import evidence_present
from training.dataset import TEST, TRAIN, VALIDATION, SplitDates, label_pairs

EXAMPLES_TABLE = "training_examples"
FeatureBuilder = Callable[[DataFrame, DataFrame], DataFrame]

_HASH_SCALE = float(2**31)


def run_path(lake: Lake, run: str) -> str:
    """Root of one training run's examples."""
    return lake.path(EXAMPLES_TABLE, f"run={run}")


def snapshot_path(lake: Lake, run: str, day: dt.date) -> str:
    """One snapshot's examples of one training run."""
    return lake.path(EXAMPLES_TABLE, f"run={run}", f"snapshot={day_str(day)}")


def labelled_candidates(pairs: DataFrame, features: DataFrame) -> DataFrame:
    """The labelled candidate pairs of one day: ``PAIR_KEYS`` and ``label`` (0 or 1).

    Args:
        pairs: one day's ``candidate_pairs``.
        features: the same day's ``cookie_features`` (``site_id``, ``cookie_id``,
            ``login_hash``).
    """
    evidence = evidence_present(pairs.columns)
    return (
        label_pairs(
            pairs.select(*PAIR_KEYS, *evidence),
            features.select("site_id", "cookie_id", "login_hash"),
        )
        .where(F.col("label").isNotNull())
        .select(*PAIR_KEYS, *evidence, "label")
    )


def pair_unit(columns: list[str] = PAIR_KEYS) -> Column:
    """A number in [0, 1) fixed by the pair's ids: the same pair draws the same on every day."""
    return F.pmod(F.xxhash64(*columns), F.lit(2**31)).cast("double") / F.lit(_HASH_SCALE)


def sample_fraction(rows: int, cap: int) -> float:
    """The share of ``rows`` to keep so that about ``cap`` remain (1.0: keep all)."""
    return 1.0 if rows <= cap else cap / rows


def sample_pairs(labelled: DataFrame, fraction: float) -> DataFrame:
    """``labelled`` thinned to ``fraction`` of its pairs, positives and negatives alike (the
    class balance, and so the threshold chosen on validation, stays what it was)."""
    if fraction >= 1.0:
        return labelled
    return labelled.where(pair_unit() < F.lit(fraction))


def snapshot_examples(
    labelled: DataFrame, features: DataFrame, *, build_features: FeatureBuilder
) -> DataFrame:
    """Pair features of one day's labelled pairs: ``PAIR_KEYS``, ``label`` and the features."""
    evidence = evidence_present(labelled.columns)
    return build_features(labelled.select(*PAIR_KEYS, *evidence, "label"), features)


def write_snapshot(examples: DataFrame, lake: Lake, run: str, day: dt.date) -> None:
    """Write (replace) one snapshot of the run: a retried run rewrites the same files."""
    examples.write.mode("overwrite").parquet(snapshot_path(lake, run, day))


def read_run(spark: SparkSession, lake: Lake, run: str) -> DataFrame:
    """Every snapshot of the run, with ``snapshot`` as a DATE column."""
    return (
        spark.read.option("basePath", run_path(lake, run))
        .parquet(run_path(lake, run))
        .withColumn("snapshot", F.col("snapshot").cast("date"))
    )


def select_examples(examples: DataFrame, *, dates: SplitDates) -> DataFrame:
    """One row per pair with its split, from the labelled examples of every snapshot.

    Args:
        examples: ``read_run`` output (``PAIR_KEYS``, ``snapshot``, ``label``, features).
        dates: the period boundaries.

    Returns:
        ``examples``' columns plus ``first_seen`` and ``split``: each pair's row of its latest
        snapshot on or before the end of its period (train, validation or test by the first
        snapshot in which it was labelled).
    """
    per_pair = Window.partitionBy(*PAIR_KEYS)
    split = (
        F.when(F.col("first_seen") < F.lit(dates.validation_start), F.lit(TRAIN))
        .when(F.col("first_seen") < F.lit(dates.test_start), F.lit(VALIDATION))
        .otherwise(F.lit(TEST))
    )
    period_end = (
        F.when(F.col("split") == TRAIN, F.lit(dates.validation_start - dt.timedelta(days=1)))
        .when(F.col("split") == VALIDATION, F.lit(dates.test_start - dt.timedelta(days=1)))
        .otherwise(F.lit(dates.as_of))
    )
    within = (
        examples.withColumn("first_seen", F.min("snapshot").over(per_pair))
        .withColumn("split", split)
        .where(F.col("snapshot") <= period_end)
    )
    return (
        within.withColumn("chosen", F.max("snapshot").over(per_pair))
        .where(F.col("snapshot") == F.col("chosen"))
        .drop("chosen")
    )


def snapshot_counts(examples: DataFrame) -> dict[str, int]:
    """Positives and negatives of one written snapshot (one small aggregate)."""
    row = examples.agg(
        F.count(F.when(F.col("label") == 1, 1)).alias("positives"),
        F.count(F.when(F.col("label") == 0, 1)).alias("negatives"),
    ).first()
    assert row is not None
    return {"positives": int(row["positives"]), "negatives": int(row["negatives"])}
