"""Link verdicts recorded by the lookup service (``POST /v1/feedback``), drained into ``feedback``.

Table ``feedback`` (partitioned by ``dt`` = the day the publish drained it), one row per
verdict as received: ``site_id_a, cookie_id_a, site_id_b, cookie_id_b, verdict``
(``different_people`` or ``same_person``), ``reason`` (redacted free text or null),
``key_id`` (irreversible id of the sender's API key), ``received_at``, ``stream_id`` (the
Redis stream entry it came from) and ``problem`` (null for a usable verdict, else why it is
not used: kept, counted, never silently dropped).

Readers see verdicts pair-ordered like every pair table (``schemas.pair_ordered``) and keep the
latest verdict per unordered pair (by ``received_at``, then stream id): a ``same_person`` sent
after a ``different_people`` on the same pair lifts the cannot-link, and the reverse imposes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from idgraph.core.lake import Lake
from spark_jobs.common.io import list_partitions
from spark_jobs.common.schemas import PAIR_KEYS

FEEDBACK_TABLE = "feedback"
DIFFERENT, SAME = "different_people", "same_person"

FEEDBACK = T.StructType(
    [
        T.StructField("site_id_a", T.StringType()),
        T.StructField("cookie_id_a", T.StringType()),
        T.StructField("site_id_b", T.StringType()),
        T.StructField("cookie_id_b", T.StringType()),
        T.StructField("verdict", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("key_id", T.StringType()),
        T.StructField("received_at", T.TimestampType()),
        T.StructField("stream_id", T.StringType(), False),
        T.StructField("problem", T.StringType()),
    ]
)

LABELS = T.StructType(
    [
        *(T.StructField(k, T.StringType(), False) for k in PAIR_KEYS),
        T.StructField("label", T.IntegerType(), False),
        T.StructField("weight", T.DoubleType(), False),
        T.StructField("received_at", T.TimestampType()),
    ]
)
"""What ``feedback_labels`` returns: one row per unordered pair, its latest verdict."""


def read_feedback(spark: SparkSession, lake: Lake, as_of: dt.date | None = None) -> DataFrame:
    """Every verdict drained on or before ``as_of`` (all of them when None), with ``dt``
    (DATE, the day drained); an empty frame when there are none. Invalid rows included."""
    days = [d for d in list_partitions(spark, lake, FEEDBACK_TABLE) if as_of is None or d <= as_of]
    if not days:
        return spark.createDataFrame([], FEEDBACK).withColumn("dt", F.lit(None).cast("date"))
    return (
        spark.read.option("basePath", lake.table(FEEDBACK_TABLE))
        .schema(T.StructType([*FEEDBACK.fields, T.StructField("dt", T.StringType())]))
        .parquet(*(lake.partition(FEEDBACK_TABLE, d) for d in days))
        .withColumn("dt", F.col("dt").cast("date"))
    )


def _a_first() -> Column:
    return (F.col("site_id_a") < F.col("site_id_b")) | (
        (F.col("site_id_a") == F.col("site_id_b")) & (F.col("cookie_id_a") < F.col("cookie_id_b"))
    )


def ordered_verdicts(feedback: DataFrame) -> DataFrame:
    """The usable verdicts of ``feedback`` with the pair as ``PAIR_KEYS`` (l < r), every
    other column kept."""
    first = _a_first()
    side = {
        "site_id_l": F.when(first, F.col("site_id_a")).otherwise(F.col("site_id_b")),
        "cookie_id_l": F.when(first, F.col("cookie_id_a")).otherwise(F.col("cookie_id_b")),
        "site_id_r": F.when(first, F.col("site_id_b")).otherwise(F.col("site_id_a")),
        "cookie_id_r": F.when(first, F.col("cookie_id_b")).otherwise(F.col("cookie_id_a")),
    }
    rest = [c for c in feedback.columns if c not in ("site_id_a", "cookie_id_a", "site_id_b",
                                                       "cookie_id_b")]  # fmt: skip
    return feedback.where(F.col("problem").isNull()).select(
        *(v.alias(k) for k, v in side.items()), *rest
    )


def latest_verdicts(feedback: DataFrame) -> DataFrame:
    """One row per unordered pair: its latest usable verdict (``ordered_verdicts`` columns)."""
    latest = Window.partitionBy(*PAIR_KEYS).orderBy(
        F.desc_nulls_last("received_at"), F.desc("stream_id")
    )
    return (
        ordered_verdicts(feedback)
        .withColumn("_n", F.row_number().over(latest))
        .where(F.col("_n") == 1)
        .drop("_n")
    )


def cannot_links(spark: SparkSession, lake: Lake, as_of: dt.date) -> DataFrame:
    """``PAIR_KEYS`` of every pair whose latest verdict drained by ``as_of`` is
    ``different_people``: the graph of ``as_of`` never gives them one unified ID."""
    return (
        latest_verdicts(read_feedback(spark, lake, as_of))
        .where(F.col("verdict") == DIFFERENT)
        .select(*PAIR_KEYS)
    )


def key_weights(counts: Mapping[str, int], max_share: float) -> dict[str, float]:
    """Per-key weight of one verdict, so that no key's verdicts weigh more than ``max_share``
    of all feedback weight.

    Water-filling: the keys with the most verdicts are capped at a common total ``C`` with
    ``C = max_share x (m C + rest)`` (``m`` capped keys, ``rest`` the other keys' verdicts);
    every other key keeps weight 1. When fewer than ``1 / max_share`` keys sent feedback no
    cap can hold; every key then weighs the same in total (that of the key with the fewest
    verdicts), the most even split there is.

    Args:
        counts: verdicts (label rows) per key id.
        max_share: the largest share of the total weight one key may hold.

    Returns:
        Weight of each of the key's verdicts (0 < w <= 1).
    """
    if not counts:
        return {}
    sizes = sorted(counts.values(), reverse=True)
    total = sum(sizes)
    cap: float | None = None
    if sizes[0] <= max_share * total:
        return dict.fromkeys(counts, 1.0)
    rest = total
    for m in range(1, len(sizes) + 1):
        rest -= sizes[m - 1]
        if max_share * m >= 1 or rest == 0:
            break
        candidate = max_share * rest / (1 - max_share * m)
        if candidate <= sizes[m - 1] and (m == len(sizes) or candidate >= sizes[m]):
            cap = candidate
            break
    if cap is None:
        cap = float(sizes[-1])
    return {key: min(1.0, cap / n) for key, n in counts.items()}


def feedback_labels(
    spark: SparkSession, lake: Lake, as_of: dt.date, max_share_per_key: float = 0.1
) -> DataFrame:
    """Training labels from verdicts drained by ``as_of``: one row per unordered pair.

    ``label`` is 1 for ``same_person``, 0 for ``different_people`` (the pair's latest verdict);
    ``weight`` caps the sender's influence (``key_weights``, the key of that latest verdict).
    The per-key counts collected to compute the cap are one row per API key: a handful.

    Args:
        spark: the session.
        lake: the lake.
        as_of: the training's as-of day (later drains are not seen).
        max_share_per_key: ``settings.graph.feedback_max_share_per_key``.

    Returns:
        ``LABELS`` columns: ``PAIR_KEYS``, ``label``, ``weight``, ``received_at``.
    """
    latest = latest_verdicts(read_feedback(spark, lake, as_of)).localCheckpoint()
    counts = {
        r["key_id"]: int(r["n"])
        for r in latest.groupBy("key_id").agg(F.count(F.lit(1)).alias("n")).collect()
    }
    weights = key_weights(counts, max_share_per_key)
    weight_frame = spark.createDataFrame(list(weights.items()), "key_id string, weight double")
    return latest.join(F.broadcast(weight_frame), "key_id").select(
        *PAIR_KEYS,
        (F.col("verdict") == SAME).cast("int").alias("label"),
        "weight",
        "received_at",
    )


def _side(graph: DataFrame, side: str, name: str) -> DataFrame:
    return graph.select(
        F.col("dt").alias("_gdt"),
        F.col("site_id").alias(f"site_id_{side}"),
        F.col("cookie_id").alias(f"cookie_id_{side}"),
        F.col("unified_id").alias(name),
    )


def _same_id(verdicts: DataFrame, graph: DataFrame, day_col: Column, name: str) -> DataFrame:
    """``verdicts`` with ``name``: true when both cookies share a unified ID in ``graph`` on
    the day ``day_col`` says, false when they do not, null when either is missing."""
    a, b = f"_{name}_a", f"_{name}_b"
    out = verdicts.withColumn("_gdt", day_col)
    for side, col in (("a", a), ("b", b)):
        out = out.join(
            _side(graph, side, col), ["_gdt", f"site_id_{side}", f"cookie_id_{side}"], "left"
        )
    same = F.when(F.col(a).isNull() | F.col(b).isNull(), F.lit(None).cast("boolean")).otherwise(
        F.col(a) == F.col(b)
    )
    return out.withColumn(name, same).drop("_gdt", a, b)


def feedback_effects(
    spark: SparkSession, lake: Lake, since: dt.date | None = None
) -> tuple[DataFrame, dt.date | None]:
    """Every verdict drained on or after ``since`` and what it changed (for the export).

    ``shared_before``: the two cookies shared a unified ID in the graph of the day before the
    one it was drained into (``feedback/dt=X`` holds what graph X is the first to honour: the
    drain stage of X, or the publish of X-1).
    ``shared_now``: they share one in the latest graph. ``in_force``: it is its pair's latest
    verdict. ``effect`` says it in words.

    Returns:
        (the verdicts, the latest graph's day or None when there is no graph).
    """
    everything = read_feedback(spark, lake)
    first = _a_first()
    pair = F.when(first, F.concat_ws("|", "site_id_a", "cookie_id_a", "site_id_b", "cookie_id_b"))
    pair = pair.otherwise(F.concat_ws("|", "site_id_b", "cookie_id_b", "site_id_a", "cookie_id_a"))
    latest = Window.partitionBy("_pair").orderBy(
        F.desc_nulls_last("received_at"), F.desc("stream_id")
    )
    usable = F.col("problem").isNull()
    rank = F.when(usable, F.row_number().over(latest))
    verdicts = (
        everything.withColumn("_pair", F.when(usable, pair))
        .withColumn("in_force", F.coalesce(rank == 1, F.lit(False)))
        .drop("_pair")
    )
    if since is not None:
        verdicts = verdicts.where(F.col("dt") >= F.lit(since))
    graph_days = list_partitions(spark, lake, "identity_graph")
    latest_day = graph_days[-1] if graph_days else None
    if latest_day is None:
        verdicts = verdicts.withColumn("shared_before", F.lit(None).cast("boolean"))
        verdicts = verdicts.withColumn("shared_now", F.lit(None).cast("boolean"))
    else:
        drained = sorted({r["dt"] for r in verdicts.select("dt").distinct().collect()})
        before = [d - dt.timedelta(days=1) for d in drained]
        wanted = [d for d in before if d in set(graph_days)] + [latest_day]
        graph = (
            spark.read.option("basePath", lake.table("identity_graph"))
            .parquet(*(lake.partition("identity_graph", d) for d in sorted(set(wanted))))
            .select("site_id", "cookie_id", "unified_id", F.col("dt").cast("date").alias("dt"))
        )
        verdicts = _same_id(verdicts, graph, F.date_sub(F.col("dt"), 1), "shared_before")
        verdicts = _same_id(verdicts, graph, F.lit(latest_day), "shared_now")
    honoured = F.lit(latest_day).isNotNull() & (F.col("dt") <= F.lit(latest_day))
    effect = (
        F.when(~usable, F.concat(F.lit("not used: "), F.col("problem")))
        .when(F.col("verdict") == SAME, F.lit("training label only"))
        .when(~F.col("in_force"), F.lit("superseded by a later verdict on the pair"))
        .when(~honoured, F.lit("pending: honoured from the next graph"))
        .when(F.col("shared_now").isNull(), F.lit("a cookie is not in the latest graph"))
        .when(F.col("shared_now"), F.lit("NOT HONOURED: still one unified ID"))
        .when(F.col("shared_before"), F.lit("split: one unified ID before, two now"))
        .otherwise(F.lit("apart already; kept apart"))
    )
    return verdicts.withColumn("effect", effect), latest_day
