"""The GX runner stops a stage with a readable report; opt-outs drop cookies and logins."""

from __future__ import annotations

import datetime as dt

import great_expectations as gx
import pytest

from idgraph.core.lake import Lake
from idgraph.core.stage import StageFailed
from spark_jobs.common.expectations import check_suite
from spark_jobs.common.io import write_partition
from spark_jobs.common.optouts import drop_opted_out, read_optouts

pytestmark = pytest.mark.spark


def test_passing_suite_reports_success(spark) -> None:  # type: ignore[no-untyped-def]
    df = spark.createDataFrame([(1, "a"), (2, "b")], "x int, y string").cache()
    report = check_suite(
        df,
        [
            gx.expectations.ExpectColumnValuesToNotBeNull(column="y"),
            gx.expectations.ExpectColumnValuesToBeBetween(column="x", min_value=0, max_value=5),
        ],
        suite_name="ok",
        stage="test",
    )
    assert report.success and report.evaluated == 2 and report.failed == []


def test_failing_suite_raises_with_what_failed(spark) -> None:  # type: ignore[no-untyped-def]
    df = spark.createDataFrame([(1, "a"), (9, None)], "x int, y string").cache()
    with pytest.raises(StageFailed) as info:
        check_suite(
            df,
            [
                gx.expectations.ExpectColumnValuesToNotBeNull(column="y"),
                gx.expectations.ExpectColumnValuesToBeBetween(column="x", min_value=0, max_value=5),
                gx.expectations.ExpectColumnToExist(column="x"),
            ],
            suite_name="broken",
            stage="etl",
        )
    message = str(info.value)
    assert message.startswith("[etl] suite broken: 1/3 expectations passed")
    assert "expect_column_values_to_not_be_null" in message
    assert "expect_column_values_to_be_between" in message
    assert len(info.value.details["failed"]) == 2


def test_drop_opted_out_by_cookie_and_login(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(str(tmp_path))
    assert read_optouts(spark, lake).count() == 0
    now = dt.datetime(2026, 11, 20, 12)
    optouts = spark.createDataFrame(
        [("cookie", "s1", "c1", None, now), ("login_hash", None, None, "h9", now)],
        "kind string, site_id string, cookie_id string, login_hash string, requested_at timestamp",
    )
    write_partition(optouts, lake, "optouts", dt.date(2026, 11, 20))
    cookies = spark.createDataFrame(
        [("s1", "c1", None), ("s1", "c2", None), ("s2", "c1", "h9"), ("s2", "c3", "h1")],
        "site_id string, cookie_id string, login_hash string",
    )
    kept = drop_opted_out(cookies, read_optouts(spark, lake))
    assert sorted((r.site_id, r.cookie_id) for r in kept.collect()) == [("s1", "c2"), ("s2", "c3")]


def test_observation_listener_errors_are_silenced(spark) -> None:  # type: ignore[no-untyped-def]
    # After an Observation, Spark's listener logs every query that fails analysis as an ERROR
    # (Great Expectations runs one such query on cookie_features); the session silences it.
    jvm = spark.sparkContext._jvm
    logger = jvm.org.apache.logging.log4j.LogManager.getLogger(
        "org.apache.spark.sql.util.ExecutionListenerBus"
    )
    assert logger.getLevel().toString() == "OFF"
