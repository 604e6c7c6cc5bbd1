"""Stable, opaque unified IDs across days.

Today's components are matched to yesterday's unified IDs through the cookies they share:

- a component inherits the ID of yesterday's component it overlaps most (ties: the ID whose
  component had more cookies yesterday, then the smaller ID);
- when components merged, that is the ID contributing the most cookies;
- when one split, the part holding most of its cookies keeps it (ties: the larger part, then the
  part with the smaller label);
- an ID goes to at most one component: matching is mutual-best, repeated for a few rounds so
  that a component losing its first choice can still inherit its second;
- a component matched to nothing gets a new ID: a hash of its label (its smallest vertex id,
  itself a hash of a cookie or login key) and the day, so a re-run of the day reproduces it.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

_ID_HEX_CHARS = 24  # 96 bits: new IDs of a day cannot plausibly collide with any other


def new_unified_id(component: str, day: dt.date) -> F.Column:
    """A fresh opaque ID for ``component`` (a long label column) first seen on ``day``."""
    digest = F.sha2(F.concat_ws("|", F.lit("uid"), F.col(component).cast("string"),
                                F.lit(day.isoformat())), 256)  # fmt: skip
    return F.concat(F.lit("u"), F.substring(digest, 1, _ID_HEX_CHARS))


def _best(df: DataFrame, key: str, order: list[F.Column]) -> DataFrame:
    rank = F.row_number().over(Window.partitionBy(key).orderBy(*order))
    return df.withColumn("_rank", rank).where(F.col("_rank") == 1).drop("_rank")


def match_components(today: DataFrame, yesterday: DataFrame, *, rounds: int = 2) -> DataFrame:
    """Which of yesterday's unified IDs each of today's components inherits.

    Args:
        today: ``site_id``, ``cookie_id``, ``component`` (long), ``component_size``.
        yesterday: ``site_id``, ``cookie_id``, ``unified_id``.
        rounds: rounds of mutual-best matching.

    Returns:
        ``component``, ``unified_id``: one row per component that inherits an ID.
    """
    old_size = yesterday.groupBy("unified_id").agg(F.count(F.lit(1)).alias("old_size"))
    overlap = (
        today.join(yesterday.select("site_id", "cookie_id", "unified_id"), ["site_id", "cookie_id"])
        .groupBy("component", "unified_id")
        .agg(F.count(F.lit(1)).alias("overlap"), F.first("component_size").alias("new_size"))
        .join(old_size, "unified_id")
    )
    by_component = [F.desc("overlap"), F.desc("old_size"), F.asc("unified_id")]
    by_id = [F.desc("overlap"), F.desc("new_size"), F.asc("component")]
    # Each round reads the previous one's open pairs twice: without a lineage cut the plan
    # doubles every round. The tables hold one row per (component, old ID) pair: small.
    open_pairs = overlap.localCheckpoint()
    matched: DataFrame | None = None
    for round_no in range(rounds):
        mutual = (
            _best(open_pairs, "component", by_component)
            .join(
                _best(open_pairs, "unified_id", by_id).select("component", "unified_id"),
                ["component", "unified_id"],
            )
            .select("component", "unified_id")
            .localCheckpoint()
        )
        matched = mutual if matched is None else matched.unionByName(mutual)
        if round_no == rounds - 1:
            break
        open_pairs = (
            open_pairs.join(mutual.select("component"), "component", "left_anti")
            .join(mutual.select("unified_id"), "unified_id", "left_anti")
            .localCheckpoint()
        )
    assert matched is not None
    return matched


def assign_unified_ids(
    today: DataFrame, yesterday: DataFrame | None, *, day: dt.date, rounds: int = 2
) -> DataFrame:
    """Add ``unified_id`` and ``id_inherited`` (bool) to today's cookies.

    Args:
        today: ``site_id``, ``cookie_id``, ``component``, ``component_size`` (+ any columns).
        yesterday: yesterday's ``identity_graph`` rows, or None on the first day.
        day: today (seeds the new IDs).
        rounds: rounds of mutual-best matching.
    """
    if yesterday is None:
        return today.withColumn("unified_id", new_unified_id("component", day)).withColumn(
            "id_inherited", F.lit(False)
        )
    inherited = match_components(today, yesterday, rounds=rounds).withColumnRenamed(
        "unified_id", "_inherited"
    )
    return (
        today.join(inherited, "component", "left_outer")
        .withColumn("id_inherited", F.col("_inherited").isNotNull())
        .withColumn("unified_id", F.coalesce("_inherited", new_unified_id("component", day)))
        .drop("_inherited")
    )


def churn(today: DataFrame, yesterday: DataFrame) -> DataFrame:
    """One row: ``returning`` cookies (in both days) and ``changed`` (their ID changed)."""
    both = today.select("site_id", "cookie_id", F.col("unified_id").alias("_now")).join(
        yesterday.select("site_id", "cookie_id", F.col("unified_id").alias("_was")),
        ["site_id", "cookie_id"],
    )
    return both.agg(
        F.count(F.lit(1)).alias("returning"),
        F.count(F.when(F.col("_now") != F.col("_was"), 1)).alias("changed"),
    )
