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

Household IDs (``assign_household_ids``) follow the same rules over households: today's
households inherit yesterday's ``household_id`` through the cookies they share. They are
``h`` + 12 hex (48 bits, so the Redis value stays small: docs/redis-format.md); a new ID
that collides with another household's ID of the day is drawn again with a salt.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

_ID_HEX_CHARS = 24  # 96 bits: new IDs of a day cannot plausibly collide with any other
HOUSEHOLD_ID_HEX_CHARS = 12  # 48 bits, checked for collisions within the day


def new_unified_id(component: str, day: dt.date) -> F.Column:
    """A fresh opaque ID for ``component`` (a long label column) first seen on ``day``."""
    digest = F.sha2(F.concat_ws("|", F.lit("uid"), F.col(component).cast("string"),
                                F.lit(day.isoformat())), 256)  # fmt: skip
    return F.concat(F.lit("u"), F.substring(digest, 1, _ID_HEX_CHARS))


def new_household_id(household: str, day: dt.date, salt: F.Column | None = None) -> F.Column:
    """A fresh opaque household ID for ``household`` (a long label column) first seen on
    ``day``; ``salt`` (an int column) draws another one after a collision."""
    parts = [F.lit("hid"), F.col(household).cast("string"), F.lit(day.isoformat())]
    if salt is not None:
        parts.append(salt.cast("string"))
    digest = F.sha2(F.concat_ws("|", *parts), 256)
    return F.concat(F.lit("h"), F.substring(digest, 1, HOUSEHOLD_ID_HEX_CHARS))


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


_SALTS = 3  # fresh household IDs drawn again at most this many times after a collision


def assign_household_ids(
    today: DataFrame, yesterday: DataFrame | None, *, day: dt.date, rounds: int = 2
) -> DataFrame:
    """Add ``household_id`` and ``household_inherited`` (bool) to today's cookies.

    Args:
        today: ``site_id``, ``cookie_id``, ``household`` (long label), ``household_size``
            (+ any columns).
        yesterday: yesterday's ``identity_graph`` rows with ``household_id``, or None (first
            day, or a graph written before households existed).
        day: today (seeds the new IDs).
        rounds: rounds of mutual-best matching.
    """
    inherited = None
    if yesterday is not None:
        inherited = match_components(
            today.select(
                "site_id",
                "cookie_id",
                F.col("household").alias("component"),
                F.col("household_size").alias("component_size"),
            ),
            yesterday.select("site_id", "cookie_id", F.col("household_id").alias("unified_id")),
            rounds=rounds,
        ).select(F.col("component").alias("household"), F.col("unified_id").alias("_inherited"))
    labels = today.select("household").distinct()
    if inherited is not None:
        labels = labels.join(inherited, "household", "left_outer")
    else:
        labels = labels.withColumn("_inherited", F.lit(None).cast("string"))
    # New IDs are 48 bits: draw again (salted) while one equals another household's ID.
    labels = labels.withColumn("_salt", F.lit(0)).withColumn(
        "household_id", F.coalesce("_inherited", new_household_id("household", day))
    )
    for salt in range(1, _SALTS + 1):
        labels = labels.localCheckpoint()
        taken = labels.groupBy("household_id").agg(F.count(F.lit(1)).alias("_n"))
        clash = labels.join(taken, "household_id").where(
            (F.col("_n") > 1) & F.col("_inherited").isNull()
        )
        if clash.limit(1).count() == 0:
            break
        redraw = clash.select("household").withColumn("_redraw", F.lit(True))
        labels = (
            labels.join(redraw, "household", "left_outer")
            .withColumn("_salt", F.when(F.col("_redraw"), F.lit(salt)).otherwise(F.col("_salt")))
            .withColumn(
                "household_id",
                F.when(
                    F.col("_redraw"), new_household_id("household", day, F.col("_salt"))
                ).otherwise(F.col("household_id")),
            )
            .drop("_redraw")
        )
    return today.join(
        labels.select(
            "household",
            "household_id",
            F.col("_inherited").isNotNull().alias("household_inherited"),
        ),
        "household",
    )


def churn(today: DataFrame, yesterday: DataFrame, *, column: str = "unified_id") -> DataFrame:
    """One row: ``returning`` cookies (in both days) and ``changed`` (their ``column`` changed)."""
    both = today.select("site_id", "cookie_id", F.col(column).alias("_now")).join(
        yesterday.select("site_id", "cookie_id", F.col(column).alias("_was")),
        ["site_id", "cookie_id"],
    )
    return both.agg(
        F.count(F.lit(1)).alias("returning"),
        F.count(F.when(F.col("_now") != F.col("_was"), 1)).alias("changed"),
    )
