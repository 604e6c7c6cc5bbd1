"""The ``panel`` stage: a partner's panel drop ``raw/panel/dt=D`` -> ``panel``.

A consented measurement panel lists, for each panelist, every cookie their browsers hold:
one JSON object per line, ``{"site_id", "cookie_id", "panel_id"}``, the panel id already
hashed by the partner. It is the product's truth set: training labels pairs with it and
chooses the decision threshold on held-out panelists (``training.examples``).

Every line gets exactly one status, like a pixel line:

* ``quarantine`` with the first failing reason of :data:`REASONS`: ``malformed_json``,
  ``missing_site_id``, ``missing_cookie_id``, ``missing_panel_id``, ``panel_id_not_hashed``
  (not 16-128 hex digits: a raw e-mail or member number must never reach the lake),
  ``field_too_long``, ``conflicting_panel_id`` (the day's drop gives one cookie two panelists);
* ``duplicate``: another line of the day already gives the same cookie and panelist;
* ``opted_out``: the cookie has opted out (``optouts``);
* ``member``: written to ``panel/dt=D`` (``site_id``, ``cookie_id``, ``panel_id``).

``lines_read = members_written + duplicates_dropped + opted_out_dropped + quarantined`` is
checked by the stage; ``panel_quarantine/dt=D`` keeps, per quarantined line, the reason, the
cookie when it parsed, and a SHA-256 of the line (never the line: it may hold what
``panel_id_not_hashed`` exists to keep out); ``panel_reconciliation/dt=D`` keeps the counts.
A day without a drop (no ``raw/panel/dt=D``) is skipped: panels are optional.
"""

from __future__ import annotations

import datetime as dt
import time

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings
from idgraph.core.stage import StageFailed, StageResult
from spark_jobs.common.io import path_exists, read_table
from spark_jobs.common.optouts import read_optouts

STAGE = "panel"
TABLE, QUARANTINE, RECONCILIATION = "panel", "panel_quarantine", "panel_reconciliation"
FIELDS = ("site_id", "cookie_id", "panel_id")
REASONS = (
    "malformed_json",
    *(f"missing_{f}" for f in FIELDS),
    "panel_id_not_hashed",
    "field_too_long",
    "conflicting_panel_id",
)
COUNTS = ("lines_read", "members_written", "duplicates_dropped", "opted_out_dropped", "quarantined")
MAX_FIELD_LENGTH = 256
_HASHED = r"^[0-9a-fA-F]{16,128}$"
_PARSE = T.StructType(
    [T.StructField(f, T.StringType()) for f in FIELDS] + [T.StructField("_corrupt", T.StringType())]
)


def raw_panel(lake: Lake, day: dt.date) -> str:
    """One day's panel drop as the partner delivers it."""
    return lake.path("raw", "panel", f"dt={day.isoformat()}")


def _missing(c: Column) -> Column:
    return c.isNull() | (F.trim(c) == "")


def classify_panel_lines(lines: DataFrame, optouts: DataFrame) -> DataFrame:
    """Give every raw panel line its ``status`` and, when quarantined, its ``reason``.

    Args:
        lines: one row per raw line (``value``).
        optouts: the ``optouts`` table (cookie opt-outs drop the line).

    Returns:
        ``line_sha256``, ``site_id``, ``cookie_id``, ``panel_id`` (trimmed; ``panel_id`` in
        lower case), ``status`` and ``reason``.
    """
    raw = F.make_valid_utf8(F.col("value"))
    parsed = F.from_json(
        raw, _PARSE, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"}
    )
    df = lines.select(F.sha2(raw, 256).alias("line_sha256"), raw.alias("raw"), parsed.alias("p"))
    ok = (
        F.col("p").isNotNull()
        & F.col("p._corrupt").isNull()
        & F.trim("raw").startswith("{")
        & F.trim("raw").endswith("}")
    )
    df = df.select(
        "line_sha256",
        ok.alias("json_ok"),
        *(F.when(ok, F.trim(F.col(f"p.{f}"))).alias(f) for f in FIELDS),
    ).withColumn("panel_id", F.lower("panel_id"))
    reason = F.when(~F.col("json_ok"), F.lit("malformed_json"))
    for name in FIELDS:
        reason = reason.when(_missing(F.col(name)), F.lit(f"missing_{name}"))
    too_long = F.greatest(*(F.length(F.col(f)) for f in FIELDS)) > MAX_FIELD_LENGTH
    reason = reason.when(~F.col("panel_id").rlike(_HASHED), F.lit("panel_id_not_hashed")).when(
        too_long, F.lit("field_too_long")
    )
    df = df.withColumn("reason", reason)
    cookie = Window.partitionBy("site_id", "cookie_id")
    valid = F.col("reason").isNull()
    ids = F.size(F.collect_set(F.when(valid, F.col("panel_id"))).over(cookie))
    df = df.withColumn(
        "reason",
        F.when(valid & (ids > 1), F.lit("conflicting_panel_id")).otherwise(F.col("reason")),
    )
    first = F.row_number().over(
        Window.partitionBy("site_id", "cookie_id", "panel_id", F.col("reason").isNull()).orderBy(
            "line_sha256"
        )
    )
    opted = (
        optouts.where(F.col("kind") == "cookie")
        .select(F.col("site_id").alias("_o_site"), F.col("cookie_id").alias("_o_cookie"))
        .distinct()
        .withColumn("_opted", F.lit(True))
    )
    df = df.join(
        F.broadcast(opted),
        (df["site_id"] == F.col("_o_site")) & (df["cookie_id"] == F.col("_o_cookie")),
        "left",
    )
    status = (
        F.when(F.col("reason").isNotNull(), F.lit("quarantine"))
        .when(first > 1, F.lit("duplicate"))
        .when(F.col("_opted").isNotNull(), F.lit("opted_out"))
        .otherwise(F.lit("member"))
    )
    return df.withColumn("status", status).select("line_sha256", *FIELDS, "status", "reason")


def panel_counts(classified: DataFrame) -> dict[str, int]:
    """The day's counts by status (one aggregate)."""
    row = classified.agg(
        F.count(F.lit(1)).alias("lines_read"),
        F.count(F.when(F.col("status") == "member", 1)).alias("members_written"),
        F.count(F.when(F.col("status") == "duplicate", 1)).alias("duplicates_dropped"),
        F.count(F.when(F.col("status") == "opted_out", 1)).alias("opted_out_dropped"),
        F.count(F.when(F.col("status") == "quarantine", 1)).alias("quarantined"),
    ).first()
    assert row is not None
    return {k: int(v) for k, v in row.asDict().items()}


def read_panel(spark: SparkSession, lake: Lake, as_of: dt.date) -> DataFrame:
    """Every cookie the panel has named up to ``as_of``, one row per cookie.

    Cookies named by two panelists over the days, and cookies that opted out since their
    drop, are left out. Small: a panel is a few thousand people.

    Returns:
        ``site_id``, ``cookie_id``, ``panel_id`` (an empty frame when there is no panel).
    """
    schema = "site_id string, cookie_id string, panel_id string"
    if not path_exists(spark, lake.table(TABLE)):
        return spark.createDataFrame([], schema)
    rows = read_table(spark, lake, TABLE).where(F.col("dt") <= F.lit(as_of))
    per_cookie = rows.groupBy("site_id", "cookie_id").agg(
        F.min("panel_id").alias("panel_id"), F.countDistinct("panel_id").alias("ids")
    )
    opted = (
        read_optouts(spark, lake).where(F.col("kind") == "cookie").select("site_id", "cookie_id")
    )
    return (
        per_cookie.where(F.col("ids") == 1)
        .drop("ids")
        .join(F.broadcast(opted.distinct()), ["site_id", "cookie_id"], "left_anti")
    )


def run_panel(spark: SparkSession, settings: AppSettings, day: dt.date) -> StageResult:
    """Validate day ``day``'s panel drop into ``panel/dt=D``.

    Raises:
        StageFailed: the lines do not add up (``lines_read`` against the statuses written).
    """
    started = time.perf_counter()
    lake = Lake(settings.lake.root)
    folder = raw_panel(lake, day)
    if not path_exists(spark, folder):
        return StageResult(STAGE, {"lines_read": 0}, skipped=True, note=f"no panel drop for {day}")
    classified = classify_panel_lines(spark.read.text(folder), read_optouts(spark, lake)).persist()
    try:
        counts = panel_counts(classified)
        members = classified.where(F.col("status") == "member").select(*FIELDS)
        quarantined = classified.where(F.col("status") == "quarantine").select(
            "site_id", "cookie_id", "reason", "line_sha256"
        )
        # Written straight to the day's folder: an empty day still replaces a previous run's.
        members.coalesce(1).write.mode("overwrite").parquet(lake.partition(TABLE, day))
        quarantined.coalesce(1).write.mode("overwrite").parquet(lake.partition(QUARANTINE, day))
    finally:
        classified.unpersist()
    written = spark.read.parquet(lake.partition(TABLE, day)).count()
    stored_quarantine = spark.read.parquet(lake.partition(QUARANTINE, day)).count()
    counts |= {"members_written": written, "quarantined": stored_quarantine}
    spark.createDataFrame([counts], ", ".join(f"{c} long" for c in COUNTS)).coalesce(1).write.mode(
        "overwrite"
    ).parquet(lake.partition(RECONCILIATION, day))
    accounted = sum(counts[c] for c in COUNTS[1:])
    if accounted != counts["lines_read"]:
        raise StageFailed(
            STAGE,
            f"panel lines do not add up for {day}: lines_read = {counts['lines_read']} but "
            f"members + duplicates + opted_out + quarantined = {accounted}",
        )
    return StageResult(STAGE, counts | {"seconds": round(time.perf_counter() - started, 1)})
