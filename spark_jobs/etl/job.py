"""The ``etl`` stage: ``raw/pixel/dt=D`` -> ``visits``, ``quarantine``, ``reconciliation``.

One pass over the raw text: parse, apply the line rules, settle duplicates (today's and the
previous day's) with one window, and cache the classified lines. Everything after that reads
the cache: the reconciliation counts (one aggregation), the distinct user agents, the visits
and the quarantine. The identity ``lines_read = visits_written + duplicates_dropped +
no_consent_dropped + quarantined`` is then checked against the row counts of the partitions
actually written, so a join that loses or multiplies rows fails the day.

A raw partition that exists but holds no lines (a quiet day, an empty file) is a day with
zero visits: ``visits/dt=D`` is written empty, the reconciliation says ``lines_read = 0``, the
later stages go on from the feature window, and the graph's publish gate holds the day. A
missing raw partition still fails the stage.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterator
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings
from idgraph.core.settings.etl import DEV_IP_HASH_KEY
from idgraph.core.stage import StageFailed, StageResult
from spark_jobs.common.expectations import check_suite
from spark_jobs.common.io import (
    list_children,
    partition_exists,
    path_exists,
    read_partition,
    write_partition,
)
from spark_jobs.common.schemas import RECONCILIATION_REQUIRED, VISITS, conform
from spark_jobs.etl import rules
from spark_jobs.etl.ip_key import resolve_ip_hash_key
from spark_jobs.etl.parse import parse_lines, ts_window
from spark_jobs.etl.useragent import user_agent_table, with_user_agent_fields
from spark_jobs.etl.visits_expectations import SUITE_NAME, visits_expectations

log = logging.getLogger(__name__)

STAGE = "etl"
RAW_FILES = "*.{json,json.gz}"
RAW_SUFFIXES = (".json", ".json.gz")
QUARANTINE_COLUMNS = ("reason", "raw", "event_id")
RECONCILIATION_COLUMNS = (
    *RECONCILIATION_REQUIRED,
    "duplicates_previous_day",
    *(f"quarantine_{r}" for r in rules.REASONS),
    *(f"warn_{w}" for w in rules.WARNINGS),
)
RECONCILIATION = T.StructType(
    [T.StructField(c, T.LongType(), False) for c in RECONCILIATION_COLUMNS]
)


def classify_lines(
    lines: DataFrame,
    *,
    day: dt.date,
    settings: AppSettings,
    previous_event_ids: DataFrame | None,
) -> DataFrame:
    """Every raw line of ``day`` with its ``status``, ``reason``, warnings and visit columns.

    Args:
        lines: the raw text, one row per line, column ``value``.
        day: the day being processed.
        settings: app settings (``etl`` concern).
        previous_event_ids: ``event_id`` of the previous day's visits, if that day exists.
    """
    etl = settings.etl
    start, end = ts_window(
        day, lateness_days=etl.lateness_days, future_tolerance_minutes=etl.future_tolerance_minutes
    )
    events = rules.apply_line_rules(
        parse_lines(lines),
        ts_start=start,
        ts_end=end,
        ip_hash_key=etl.ip_hash_key.get_secret_value().encode(),
        max_text_length=etl.max_text_length,
    )
    return rules.assign_status(events, previous_event_ids=previous_event_ids)


def clean_visits(classified: DataFrame) -> DataFrame:
    """The kept visits in ``VISITS`` column order, user-agent fields joined on."""
    kept = classified.where("status = 'visit'")
    visits = with_user_agent_fields(kept, user_agent_table(kept))
    return conform(visits.select(*VISITS.fieldNames()), VISITS, table="visits")


def quarantined_lines(classified: DataFrame) -> DataFrame:
    """Quarantined lines: ``reason``, ``raw`` (as read, bad UTF-8 replaced), ``event_id``."""
    return classified.where("status = 'quarantine'").select(*QUARANTINE_COLUMNS)


def check_identity(counts: dict[str, int]) -> None:
    """Raise ``StageFailed`` unless every line read is accounted for exactly once."""
    accounted = (
        counts["visits_written"]
        + counts["duplicates_dropped"]
        + counts["no_consent_dropped"]
        + counts["quarantined"]
    )
    if counts["lines_read"] != accounted:
        raise StageFailed(
            STAGE,
            f"reconciliation broken: lines_read={counts['lines_read']} but visits_written + "
            f"duplicates_dropped + no_consent_dropped + quarantined = {accounted}",
            counts,
        )


def _delete_partition(spark: SparkSession, lake: Lake, table: str, day: dt.date) -> None:
    # Dynamic overwrite replaces only partitions that receive rows: an empty result must
    # remove a previous run's partition itself, or a re-run would leave stale rows behind.
    path = lake.partition(table, day)
    jvm = spark.sparkContext._jvm  # Hadoop's FS API works for file:// and s3://
    assert jvm is not None
    jpath = jvm.org.apache.hadoop.fs.Path(path)
    jpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(jpath, True)


@contextlib.contextmanager
def _timed(step: str, seconds: dict[str, float]) -> Iterator[None]:
    started = time.perf_counter()
    yield
    seconds[step] = round(time.perf_counter() - started, 2)
    log.info("etl step %s: %.1fs", step, seconds[step])


def _write_counted(df: DataFrame, expected: int, lake: Lake, table: str, day: dt.date) -> int:
    """Write ``df`` as ``table/dt=day``; return the rows the writer actually received.

    The count is observed on the write itself (no second pass), so a join that lost or
    multiplied rows on the way shows up in the reconciliation identity.
    """
    if not expected:
        _delete_partition(df.sparkSession, lake, table, day)
        return 0
    observation = Observation(f"{table}_rows")
    write_partition(df.observe(observation, F.count(F.lit(1)).alias("rows")), lake, table, day)
    return int(observation.get["rows"])


def check_ip_hash_key(settings: AppSettings) -> None:
    """Refuse the public development IP key anywhere but a local lake.

    Raises:
        StageFailed: one line naming the setting.
    """
    lake = Lake(settings.lake.root)
    if not lake.is_local and settings.etl.ip_hash_key.get_secret_value() == DEV_IP_HASH_KEY:
        raise StageFailed(
            STAGE,
            f"refusing the development IP hash key for the non-local lake {lake.root}: set "
            "IDGRAPH_ETL_IP_HASH_KEY_SECRET_ARN (etl.ip_hash_key_secret_arn) to the key's "
            "Secrets Manager secret, or IDGRAPH_ETL_IP_HASH_KEY (etl.ip_hash_key)",
        )


def _write_empty_visits(spark: SparkSession, lake: Lake, day: dt.date) -> None:
    """``visits/dt=D`` with no rows (one empty file carrying the schema): a quiet day exists
    for the later stages and for tomorrow's duplicate check, with nothing in it."""
    spark.createDataFrame([], VISITS).coalesce(1).write.mode("overwrite").parquet(
        lake.partition("visits", day)
    )


def run_etl(spark: SparkSession, settings: AppSettings, day: dt.date) -> StageResult:
    """Validate and clean day ``day``'s raw pixel lines.

    Writes ``visits/dt=D``, ``quarantine/dt=D`` and ``reconciliation/dt=D``.

    A raw partition without a single line (a quiet day, an empty file) gives a day of zero
    visits: an empty ``visits/dt=D`` and a reconciliation of zeros, and the summary says so.

    Raises:
        StageFailed: the IP key unreadable from its secret or the development key on a
            non-local lake (``check_ip_hash_key``), no raw partition for the day, a broken
            reconciliation identity, lines but no clean visit, or a failed visits suite. Then
            ``visits/dt=D`` is removed while ``quarantine`` and ``reconciliation`` stay for the
            post-mortem.
    """
    settings = resolve_ip_hash_key(settings)
    check_ip_hash_key(settings)
    started = time.perf_counter()
    steps: dict[str, float] = {}
    lake = Lake(settings.lake.root)
    raw_dir = lake.raw_pixel(day)
    if not path_exists(spark, raw_dir):
        raise StageFailed(STAGE, f"no raw data for {day}: {raw_dir} does not exist")
    if not any(name.endswith(RAW_SUFFIXES) for name in list_children(spark, raw_dir)):
        raise StageFailed(
            STAGE,
            f"no raw data for {day}: {raw_dir} holds no {RAW_FILES} file (a quiet day is an "
            "empty file, not an empty partition)",
        )
    lines = spark.read.option("pathGlobFilter", RAW_FILES).text(raw_dir)
    # gzip files cannot be split: spread their lines over the cores before parsing.
    parallelism = spark.sparkContext.defaultParallelism
    if lines.rdd.getNumPartitions() < parallelism:
        lines = lines.repartition(parallelism)

    previous_day = day - dt.timedelta(days=1)
    previous = (
        read_partition(spark, lake, "visits", previous_day).select("event_id")
        if partition_exists(spark, lake, "visits", previous_day)
        else None
    )
    classified = classify_lines(lines, day=day, settings=settings, previous_event_ids=previous)
    classified = classified.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with _timed("classify_and_count", steps):
            row = rules.reconcile(classified).first()
        assert row is not None
        counts: dict[str, Any] = row.asDict()
        quiet = not counts["lines_read"]
        if quiet:
            log.warning("etl %s: %s holds no lines: a day of zero visits", day, raw_dir)
        with _timed("write_visits", steps):
            if quiet:
                _write_empty_visits(spark, lake, day)
                counts["visits_written"] = 0
            else:
                counts["visits_written"] = _write_counted(
                    clean_visits(classified), counts["visits"], lake, "visits", day
                )
        with _timed("write_quarantine", steps):
            counts["quarantined"] = _write_counted(
                quarantined_lines(classified), counts["quarantined"], lake, "quarantine", day
            )
    finally:
        classified.unpersist()

    with _timed("write_reconciliation", steps):
        reconciliation = {c: int(counts[c]) for c in RECONCILIATION_COLUMNS}
        write_partition(
            spark.createDataFrame([reconciliation], RECONCILIATION).coalesce(1),
            lake,
            "reconciliation",
            day,
        )
    start, end = ts_window(
        day,
        lateness_days=settings.etl.lateness_days,
        future_tolerance_minutes=settings.etl.future_tolerance_minutes,
    )
    try:
        check_identity(reconciliation)
        if not quiet and not reconciliation["visits_written"]:
            raise StageFailed(STAGE, f"no clean visits for {day}: every line was dropped")
        if not quiet:
            _check_stored_visits(spark, lake, day, start, end, steps)
    except StageFailed:
        # Later stages (and tomorrow's duplicate check) must not consume a refused day;
        # quarantine and reconciliation stay for the post-mortem.
        _delete_partition(spark, lake, "visits", day)
        raise

    warnings = sum(reconciliation[f"warn_{w}"] for w in rules.WARNINGS)
    note = f"quiet day: {raw_dir} holds no lines, 0 visits" if quiet else ""
    return StageResult(
        STAGE,
        {
            "lines_read": reconciliation["lines_read"],
            "visits_written": reconciliation["visits_written"],
            "duplicates": reconciliation["duplicates_dropped"],
            "no_consent": reconciliation["no_consent_dropped"],
            "quarantined": reconciliation["quarantined"],
            "warnings": warnings,
            "seconds": round(time.perf_counter() - started, 1),
        },
        note=note,
    )


def _check_stored_visits(
    spark: SparkSession,
    lake: Lake,
    day: dt.date,
    start: dt.datetime,
    end: dt.datetime,
    steps: dict[str, float],
) -> None:
    """Run the visits suite on what was stored (columnar reads of the written files are cheap)."""
    stored = read_partition(spark, lake, "visits", day).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with _timed("visits_suite", steps):
            check_suite(
                stored,
                visits_expectations(ts_start=start, ts_end=end),
                suite_name=SUITE_NAME,
                stage=STAGE,
            )
    finally:
        stored.unpersist()
