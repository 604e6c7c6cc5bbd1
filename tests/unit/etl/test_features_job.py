"""The ``features`` stage on a tiny lake: window, backfill of missing daily aggregates,
re-run idempotency, opt-outs, and the GX suite stopping the day on a corrupted table."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual
from test_features import H1, H2, at, visit, visits_df

from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from idgraph.core.stage import StageFailed
from spark_jobs.common.expectations import check_suite
from spark_jobs.common.io import list_partitions, read_partition, write_partition
from spark_jobs.common.optouts import OPTOUTS
from spark_jobs.etl.features_expectations import SUITE_NAME, cookie_features_expectations
from spark_jobs.etl.features_job import DAILY_TABLE, FEATURES_TABLE, run_features

pytestmark = pytest.mark.spark

D = dt.date(2026, 11, 20)
OLD = D - dt.timedelta(days=30)  # first day outside a 30-day window ending at D
FIRST = D - dt.timedelta(days=29)  # first day inside it


def _write_visits(spark, lake: Lake) -> None:  # type: ignore[no-untyped-def]
    by_day = {
        OLD: [visit("s1", "gone", at(OLD, 12)), visit("s1", "c1", at(OLD, 12), ip="x-old")],
        FIRST: [visit("s1", "c1", at(FIRST, 9), login_hash=H1)],
        D - dt.timedelta(days=3): [
            visit("s1", "c1", at(D - dt.timedelta(days=3), 9)),
            visit("s2", "c9", at(D - dt.timedelta(days=3), 22), ip="office"),
        ],
        D: [
            visit("s1", "c1", at(D, 10), login_hash=H2),
            visit("s2", "c9", at(D, 10), ip="office"),
            visit("s2", "c8", at(D, 11), ip="office"),
        ],
    }
    for day, rows in by_day.items():
        write_partition(visits_df(spark, rows), lake, "visits", day)


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A lake with visits on four days (one outside the window) and day D's features built
    from scratch: no daily aggregate existed before."""
    root = tmp_path_factory.mktemp("lake")
    lake, settings = Lake(str(root)), load_settings(lake={"root": str(root)})
    _write_visits(spark, lake)
    result = run_features(spark, settings, D)
    return lake, settings, result


def test_backfill_builds_the_missing_daily_aggregates_of_the_window(spark, built) -> None:  # type: ignore[no-untyped-def]
    lake, _, result = built
    assert list_partitions(spark, lake, DAILY_TABLE) == [FIRST, D - dt.timedelta(days=3), D]
    assert result.summary == {
        "cookies": 3,
        "cookies_with_login": 1,
        "window_days_present": 3,
        "mean_events_per_cookie": round(6 / 3, 2),
    }


def test_window_excludes_visits_31_days_old(spark, built) -> None:  # type: ignore[no-untyped-def]
    lake, _, _ = built
    rows = {
        (r.site_id, r.cookie_id): r
        for r in read_partition(spark, lake, FEATURES_TABLE, D).collect()
    }
    assert set(rows) == {("s1", "c1"), ("s2", "c9"), ("s2", "c8")}
    c1 = rows[("s1", "c1")]
    assert (c1.n_events, c1.n_active_days, c1.login_hash) == (3, 3, H2)
    assert "h-x-old" not in {i.ip_hash for i in c1.ips}
    assert {i.ip_hash: i.ip_popularity for i in rows[("s2", "c8")].ips} == {"h-office": 2}


def test_rerun_gives_the_same_table_and_honours_optouts(spark, built) -> None:  # type: ignore[no-untyped-def]
    lake, settings, _ = built
    before = read_partition(spark, lake, FEATURES_TABLE, D).localCheckpoint()
    run_features(spark, settings, D, rebuild_daily=True)
    assertDataFrameEqual(read_partition(spark, lake, FEATURES_TABLE, D), before)

    # c1 once logged in with H1 (29 days ago): opting H1 out removes it; c8 opts out itself.
    optouts = spark.createDataFrame(
        [("login_hash", None, None, H1, None), ("cookie", "s2", "c8", None, None)], OPTOUTS
    )
    write_partition(optouts, lake, "optouts", D)
    result = run_features(spark, settings, D)
    after = read_partition(spark, lake, FEATURES_TABLE, D)
    assert [(r.site_id, r.cookie_id) for r in after.collect()] == [("s2", "c9")]
    assert result.summary["cookies"] == 1


def test_missing_visits_of_the_day_stop_the_stage(spark, built) -> None:  # type: ignore[no-untyped-def]
    _, settings, _ = built
    with pytest.raises(StageFailed, match="no visits"):
        run_features(spark, settings, D + dt.timedelta(days=1))


def test_suite_fails_on_a_corrupted_table(spark, built) -> None:  # type: ignore[no-untyped-def]
    lake, _, _ = built
    good = read_partition(spark, lake, FEATURES_TABLE, D).drop("dt")
    check_suite(
        good, cookie_features_expectations(window_days=30), suite_name=SUITE_NAME, stage="features"
    )

    corrupted = good.unionByName(good.limit(1)).withColumns(  # a duplicate key …
        {
            "n_events": F.lit(0).cast("long"),
            "hour_profile": F.slice("hour_profile", 1, 23),
            "login_hash": F.lit("ann@example.com"),
            "first_seen": F.col("last_seen") + F.expr("INTERVAL 1 HOUR"),
        }
    )
    with pytest.raises(StageFailed) as failed:
        check_suite(
            corrupted,
            cookie_features_expectations(window_days=30),  # a GX expectation joins one suite
            suite_name=SUITE_NAME,
            stage="features",
        )
    report = str(failed.value)
    for broken in (
        "compound_columns_to_be_unique",
        "n_events",
        "hour_profile",
        "login_hash",
        "column_pair_values_a_to_be_greater_than_b",
    ):
        assert broken in report, broken
