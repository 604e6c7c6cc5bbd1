"""The ``features`` stage: ``visits`` -> ``daily_cookie_aggregates`` -> ``cookie_features``.

Day D always rebuilds its own daily aggregate (its visits may have been re-run) and builds
the aggregate of any earlier day of the window whose visits exist but whose aggregate does
not (a backfill from scratch). The merged table drops opted-out cookies, must pass the GX
suite, and only then replaces ``cookie_features/dt=D``.
"""

from __future__ import annotations

import datetime as dt
import logging

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings
from idgraph.core.stage import StageFailed, StageResult
from spark_jobs.common.expectations import check_suite
from spark_jobs.common.io import delete_path, list_partitions, read_range, write_partition
from spark_jobs.common.optouts import drop_opted_out, read_optouts
from spark_jobs.common.schemas import COOKIE_FEATURES, conform
from spark_jobs.etl import features as feats
from spark_jobs.etl.features_expectations import SUITE_NAME, cookie_features_expectations

log = logging.getLogger(__name__)

STAGE = "features"
DAILY_TABLE = "daily_cookie_aggregates"
FEATURES_TABLE = "cookie_features"


def ensure_daily_aggregates(
    spark: SparkSession, lake: Lake, day: dt.date, *, window_days: int, rebuild: bool = False
) -> list[dt.date]:
    """Write the daily aggregates the window ending at ``day`` needs; return the days present.

    Args:
        spark: the session.
        lake: the lake.
        day: the last day of the window; its aggregate is always rebuilt.
        window_days: length of the window.
        rebuild: rebuild every day of the window that has visits (after re-running the ETL).

    Raises:
        StageFailed: when ``visits/dt=day`` does not exist.
    """
    start = day - dt.timedelta(days=window_days - 1)
    visit_days = {d for d in list_partitions(spark, lake, "visits") if start <= d <= day}
    if day not in visit_days:
        raise StageFailed(STAGE, f"no visits for {day}: run the etl stage for that day first")
    have = {d for d in list_partitions(spark, lake, DAILY_TABLE) if start <= d <= day}
    to_build = sorted(d for d in visit_days if d == day or rebuild or d not in have)
    log.info("building %s for %s", DAILY_TABLE, ", ".join(map(str, to_build)))
    # Dynamic overwrite replaces only days that get rows: a day that has become quiet (zero
    # visits, see spark_jobs/etl/job.py) must lose a previous run's aggregate itself.
    delete_path(spark, lake.partition(DAILY_TABLE, day))
    # All missing days in one pass (a backfill from scratch is one job, not 30); each day's
    # rows still come from that day's visits only.
    visits = (
        spark.read.option("basePath", lake.table("visits"))
        .parquet(*[lake.partition("visits", d) for d in to_build])
        .withColumn("dt", F.col("dt").cast("string"))
    )
    daily = feats.daily_cookie_aggregates(visits, day_col="dt")
    # io.write_partition writes one day; this is its multi-day twin (same dynamic overwrite).
    (
        daily.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy("dt")
        .parquet(lake.table(DAILY_TABLE))
    )
    return sorted(have | set(to_build))


def build_features(daily: DataFrame, optouts: DataFrame, **caps: int) -> DataFrame:
    """The window's daily aggregates merged, opt-outs removed, in ``COOKIE_FEATURES`` order.

    Args:
        daily: ``daily_cookie_aggregates`` of the window, with ``dt``.
        optouts: the ``optouts`` table (``read_optouts``).
        **caps: keyword caps passed to ``merge_daily_aggregates``.
    """
    logins = feats.window_logins(daily)
    kept = drop_opted_out(logins, optouts)
    merged = feats.merge_daily_aggregates(daily, **caps)
    features = feats.drop_opted_out_cookies(merged, logins, kept)
    return conform(
        feats.select_columns(features, COOKIE_FEATURES, extra=("home_networks",)),
        COOKIE_FEATURES,
        table=FEATURES_TABLE,
    )


def run_features(
    spark: SparkSession,
    settings: AppSettings,
    day: dt.date,
    *,
    rebuild_daily: bool = False,
    **caps: int,
) -> StageResult:
    """Build ``cookie_features/dt=day`` from the window's daily aggregates.

    Args:
        spark: the session.
        settings: app settings (lake root, ``etl.feature_window_days``).
        day: the day to build.
        rebuild_daily: rebuild every daily aggregate of the window, not only missing ones.
        **caps: overrides of ``merge_daily_aggregates``'s caps (``max_ips``, ``max_terms``…).

    A quiet day (``visits/dt=day`` present but empty) adds no aggregate of its own; its
    features are the window's earlier days.

    Raises:
        StageFailed: no visits partition for ``day``, no visit in the whole window, or the GX
            suite failed (nothing is written then).
    """
    lake = Lake(settings.lake.root)
    window = settings.etl.feature_window_days
    present = ensure_daily_aggregates(spark, lake, day, window_days=window, rebuild=rebuild_daily)
    start = day - dt.timedelta(days=window - 1)
    # Days aggregated before a column was added read as nulls: no backfill needed.
    try:
        daily = read_range(spark, lake, DAILY_TABLE, start, day, merge_schema=True)
    except FileNotFoundError:
        raise StageFailed(
            STAGE, f"no visits in the {window}-day window ending {day}: nothing to build"
        ) from None
    features = build_features(daily, read_optouts(spark, lake), **caps).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        check_suite(
            features,
            cookie_features_expectations(window_days=window, **caps),
            suite_name=SUITE_NAME,
            stage=STAGE,
        )
        write_partition(features, lake, FEATURES_TABLE, day)
        figures = features.agg(
            F.count(F.lit(1)).alias("cookies"),
            F.count("login_hash").alias("cookies_with_login"),
            F.avg("n_events").alias("mean_events"),
        ).first()
    finally:
        features.unpersist()
    assert figures is not None
    return StageResult(
        STAGE,
        {
            "cookies": int(figures["cookies"]),
            "cookies_with_login": int(figures["cookies_with_login"]),
            "window_days_present": len(present),
            "mean_events_per_cookie": round(float(figures["mean_events"] or 0.0), 2),
        },
    )
