"""Parsing raw pixel lines, read as text, into the fields of ``RAW_EVENT``.

The raw files are read with ``spark.read.text`` rather than the JSON reader so that every line,
however broken, reaches the rules and is either kept or quarantined: nothing vanishes.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.common.schemas import RAW_EVENT

_CORRUPT = "_corrupt_record"
_PARSE_SCHEMA = T.StructType([*RAW_EVENT.fields, T.StructField(_CORRUPT, T.StringType())])
# ISO 8601 with an explicit offset or Z: a local time without offset is ambiguous, so bad.
_ISO_TS_RE = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)$"
_EPOCH_MS_RE = r"^\d{1,15}$"  # at most 15 digits: up to year ~33658, no overflow


def parse_lines(lines: DataFrame, *, column: str = "value") -> DataFrame:
    """Parse JSON lines into one column per ``RAW_EVENT`` field plus bookkeeping columns.

    Args:
        lines: one row per raw line, the text in ``column`` exactly as read (bytes that are
            not UTF-8 are still there: Spark's text reader does not validate).
        column: name of the text column.

    Returns:
        ``raw`` (the line with invalid UTF-8 bytes replaced by U+FFFD), ``non_utf8`` (bool),
        ``json_ok`` (bool: the line is one JSON object whose fields have the contract's
        types), and the ``RAW_EVENT`` fields (null where absent or when ``json_ok`` is false).
        ``ts`` stays text: an integer epoch arrives as its digits.
    """
    # One projection per intermediate: each is used many times below, and inlining them
    # would copy the JSON parse into every field's expression.
    df = lines.select(
        F.make_valid_utf8(F.col(column)).alias("raw"),
        (~F.is_valid_utf8(F.col(column))).alias("non_utf8"),
    )
    df = df.withColumn(
        _CORRUPT,
        F.from_json(
            "raw", _PARSE_SCHEMA, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT}
        ),
    )
    parsed, trimmed = F.col(_CORRUPT), F.trim("raw")
    # from_json ignores anything after the first complete value ('{"a":1} junk'), and maps
    # arrays, scalars and type mismatches (e.g. "consent": "no") to the corrupt column.
    df = df.withColumn(
        "json_ok",
        parsed.isNotNull()
        & parsed[_CORRUPT].isNull()
        & trimmed.startswith("{")
        & trimmed.endswith("}"),
    )
    fields = [F.when(F.col("json_ok"), parsed[f.name]).alias(f.name) for f in RAW_EVENT.fields]
    return df.select("raw", "non_utf8", "json_ok", *fields)


def parse_ts(ts: Column) -> Column:
    """UTC timestamp of ``ts`` (ISO 8601 with offset/Z, or epoch millis), null if neither."""
    text = F.trim(ts)
    return (
        F.when(text.rlike(_EPOCH_MS_RE), F.timestamp_millis(text.try_cast("long")))
        .when(text.rlike(_ISO_TS_RE), F.try_to_timestamp(F.upper(text)))
        .otherwise(F.lit(None).cast("timestamp"))
    )


def ts_window(
    day: dt.date, *, lateness_days: int, future_tolerance_minutes: int
) -> tuple[dt.datetime, dt.datetime]:
    """The accepted event-time interval ``[start, end]`` (UTC, timezone-aware) for ``day``.

    Aware datetimes: PySpark reads a naive one in the driver's local time zone.
    """
    start = dt.datetime.combine(day, dt.time(), dt.UTC) - dt.timedelta(days=lateness_days)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC) + dt.timedelta(
        minutes=future_tolerance_minutes
    )
    return start, end
