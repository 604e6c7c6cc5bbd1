"""The bad-input rules of docs/bad-input.md, applied to parsed lines, and the day's reconciliation.

Each line gets exactly one status:

* ``quarantine`` with the first failing ``reason`` in the order of :data:`REASONS`
  (``malformed_json``, then ``missing_<field>`` in contract order, then ``bad_ts``, ``bad_ip``);
* otherwise ``duplicate`` when another copy of its ``event_id`` is kept (today) or was already
  stored (``visits`` of the previous day);
* otherwise ``no_consent`` when ``consent`` is false (the event is counted once, as refused);
* otherwise ``visit``.

Warnings (``login_hash`` re-hashed, ``user_agent``/``url`` truncated, non-UTF-8 bytes replaced)
do not change the status; they are counted on the visits that carry them.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.etl import normalize
from spark_jobs.etl.parse import parse_ts

REQUIRED_FIELDS = ("event_id", "ts", "site_id", "cookie_id", "ip", "user_agent")
REASONS = (
    "malformed_json",
    *(f"missing_{name}" for name in REQUIRED_FIELDS),
    "bad_ts",
    "bad_ip",
)
WARNINGS = ("login_hash_rehashed", "user_agent_truncated", "url_truncated", "non_utf8")
STATUSES = ("visit", "duplicate", "no_consent", "quarantine")


def _missing(name: str) -> Column:
    return F.col(name).isNull() | (F.trim(F.col(name)) == "")


def quarantine_reason(
    *, ts_utc: Column, ip_version: Column, start: dt.datetime, end: dt.datetime
) -> Column:
    """The first rule a parsed line breaks, or null when it passes them all."""
    reason = F.when(~F.col("json_ok"), F.lit("malformed_json"))
    for name in REQUIRED_FIELDS:
        reason = reason.when(_missing(name), F.lit(f"missing_{name}"))
    bad_ts = ts_utc.isNull() | (ts_utc < F.lit(start)) | (ts_utc > F.lit(end))
    return reason.when(bad_ts, F.lit("bad_ts")).when(ip_version.isNull(), F.lit("bad_ip"))


def apply_line_rules(
    parsed: DataFrame,
    *,
    ts_start: dt.datetime,
    ts_end: dt.datetime,
    ip_hash_key: bytes,
    max_text_length: int,
) -> DataFrame:
    """Give each parsed line its quarantine ``reason`` (null if valid), warnings and the
    normalised visit columns. The raw IP does not survive this function.

    Args:
        parsed: output of :func:`spark_jobs.etl.parse.parse_lines`.
        ts_start: earliest accepted event time (UTC, aware).
        ts_end: latest accepted event time (UTC, aware).
        ip_hash_key: key of the HMAC of full IP addresses.
        max_text_length: longer ``user_agent``/``url`` values are truncated.

    Returns:
        One row per line: ``reason``, ``raw`` (kept for quarantined lines only), ``line_key``
        (a hash of the line, to break ties deterministically), ``consent``, ``warn_*`` flags
        and the columns of ``VISITS`` except the user-agent fields, plus ``user_agent``.
    """
    login = normalize.normalize_login_hash(F.col("login_hash"))
    user_agent = normalize.truncate(F.col("user_agent"), max_length=max_text_length)
    url = normalize.truncate(F.col("url"), max_length=max_text_length)
    stage = normalize.with_ip_fields(
        parsed.withColumn("ts_utc", parse_ts(F.col("ts"))), column="ip", key=ip_hash_key
    )
    stage = stage.select("*", login.alias("login"), user_agent.alias("ua"), url.alias("url_cut"))
    stage = stage.select(
        "*",
        quarantine_reason(
            ts_utc=F.col("ts_utc"), ip_version=F.col("ip_version"), start=ts_start, end=ts_end
        ).alias("reason"),
        normalize.url_fields(F.col("url_cut.value"), F.col("referrer")).alias("urls"),
    )
    valid = F.col("reason").isNull()
    return stage.select(
        "reason",
        F.when(~valid, F.col("raw")).alias("raw"),
        F.xxhash64("raw").alias("line_key"),
        F.col("event_id"),
        F.col("ts_utc").alias("ts"),
        "site_id",
        "cookie_id",
        "ip_prefix",
        "ip_hash",
        "ip_version",
        F.col("ua.value").alias("user_agent"),
        F.nullif(F.trim("country"), F.lit("")).alias("country"),
        F.nullif(F.trim("city"), F.lit("")).alias("city"),
        "urls.url_domain",
        "urls.url_path",
        "urls.query_terms",
        "urls.topic",
        "urls.referrer_domain",
        F.col("login.value").alias("login_hash"),
        F.coalesce(F.col("consent"), F.lit(True)).alias("consent"),
        F.col("login.rehashed").alias("warn_login_hash_rehashed"),
        F.col("ua.truncated").alias("warn_user_agent_truncated"),
        F.col("url_cut.truncated").alias("warn_url_truncated"),
        F.col("non_utf8").alias("warn_non_utf8"),
    )


def assign_status(events: DataFrame, *, previous_event_ids: DataFrame | None) -> DataFrame:
    """Add ``status`` (one of :data:`STATUSES`) and ``duplicate_of_previous_day``.

    One window over ``event_id`` settles both kinds of duplicate: the previous day's ids
    are unioned in, rank first, and are dropped again afterwards. Among today's copies the
    earliest ``ts`` wins, ties broken by the line's hash, so a re-run keeps the same copy.

    Args:
        events: output of :func:`apply_line_rules`.
        previous_event_ids: ``event_id`` column of ``visits`` of the day before, if any.
    """
    today = events.withColumn("_previous", F.lit(False))
    if previous_event_ids is not None:
        previous = previous_event_ids.select("event_id").withColumn("_previous", F.lit(True))
        today = today.unionByName(previous, allowMissingColumns=True)
    valid = F.col("reason").isNull() | F.col("_previous")
    # Quarantined lines get a key of their own (hash of the line) so they do not all pile
    # into the single window partition of a null event_id.
    key = F.when(valid, F.concat(F.lit("e:"), "event_id")).otherwise(
        F.concat(F.lit("q:"), F.col("line_key").cast("string"))
    )
    by_event = Window.partitionBy("_key").orderBy(F.col("_previous").desc(), "ts", "line_key")
    ranked = today.withColumn("_key", key).select(
        "*",
        F.row_number().over(by_event).alias("_rank"),
        # The first row of the window is a previous-day copy if there is one.
        F.first("_previous").over(by_event).alias("_seen_before"),
    )
    status = (
        F.when(F.col("reason").isNotNull(), F.lit("quarantine"))
        .when(F.col("_rank") > 1, F.lit("duplicate"))
        .when(~F.col("consent"), F.lit("no_consent"))
        .otherwise(F.lit("visit"))
    )
    return (
        ranked.where(~F.col("_previous"))
        .withColumn("status", status)
        .withColumn(
            "duplicate_of_previous_day", (F.col("status") == "duplicate") & F.col("_seen_before")
        )
        .drop("_previous", "_key", "_rank", "_seen_before")
    )


def reconcile(classified: DataFrame) -> DataFrame:
    """One row of counts over the classified lines, in a single aggregation pass.

    Columns: ``lines_read``, ``visits``, ``duplicates_dropped``, ``duplicates_previous_day``,
    ``no_consent_dropped``, ``quarantined``, ``quarantine_<reason>`` for every reason and
    ``warn_<warning>`` for every warning (counted on visits).
    """
    status = F.col("status")

    def count_if(cond: Column) -> Column:
        return F.coalesce(F.sum(F.when(cond, 1).otherwise(0)), F.lit(0)).cast("long")

    is_visit = status == "visit"
    return classified.agg(
        F.count(F.lit(1)).alias("lines_read"),
        count_if(is_visit).alias("visits"),
        count_if(status == "duplicate").alias("duplicates_dropped"),
        count_if(F.col("duplicate_of_previous_day")).alias("duplicates_previous_day"),
        count_if(status == "no_consent").alias("no_consent_dropped"),
        count_if(status == "quarantine").alias("quarantined"),
        *(count_if(F.col("reason") == r).alias(f"quarantine_{r}") for r in REASONS),
        *(count_if(is_visit & F.col(f"warn_{w}")).alias(f"warn_{w}") for w in WARNINGS),
    )
