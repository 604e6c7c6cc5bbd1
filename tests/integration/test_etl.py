"""The etl stage on two simulated days with every kind of bad record, checked against the
simulator's exact injected counts: reconciliation, quarantine reasons, dedup across days,
privacy of the stored visits, and idempotent re-runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from idgraph.core.stage import StageFailed
from idgraph.simulator import simulate
from spark_jobs.common.io import read_partition
from spark_jobs.etl import rules
from spark_jobs.etl.job import run_etl

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DAY1, DAY2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
SEED = 7
# The simulator's warning kinds and the reconciliation columns that count them.
WARNING_COLUMNS = {
    "raw_email_login": "warn_login_hash_rehashed",
    "long_user_agent": "warn_user_agent_truncated",
    "long_url": "warn_url_truncated",
    "non_utf8": "warn_non_utf8",
}


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("etl-lake")
    simulate(str(root), DAY1, 2, 120, SEED, bad_rate=0.05)
    settings = load_settings(lake={"root": str(root)})
    results = {day: run_etl(spark, settings, day) for day in (DAY1, DAY2)}
    return root, settings, results


def _truth(root: Path, day: dt.date) -> dict:
    return json.loads((root / f"truth/injected/dt={day}/counts.json").read_text())


def _reconciliation(spark, root: Path, day: dt.date) -> dict:  # type: ignore[no-untyped-def]
    rows = read_partition(spark, Lake(str(root)), "reconciliation", day).collect()
    assert len(rows) == 1
    return rows[0].asDict()


@pytest.mark.parametrize("day", [DAY1, DAY2])
def test_reconciliation_matches_the_injected_counts(spark, lake, day) -> None:  # type: ignore[no-untyped-def]
    root, _, results = lake
    truth = _truth(root, day)
    got = _reconciliation(spark, root, day)
    expected = truth["expected_reconciliation"]
    for column in (
        "lines_read",
        "visits_written",
        "duplicates_dropped",
        "no_consent_dropped",
        "quarantined",
    ):
        assert got[column] == expected[column], column
    assert got["lines_read"] == (
        got["visits_written"]
        + got["duplicates_dropped"]
        + got["no_consent_dropped"]
        + got["quarantined"]
    )
    assert got["duplicates_previous_day"] == truth["counts"]["duplicate_prev_day"]
    for kind, column in WARNING_COLUMNS.items():
        assert got[column] == expected[f"warning_{kind}"], kind
    for reason in rules.REASONS:
        assert got[f"quarantine_{reason}"] == truth["counts"][reason], reason
    summary = results[day].summary
    assert summary["lines_read"] == expected["lines_read"]
    assert summary["visits_written"] == expected["visits_written"]


@pytest.mark.parametrize("day", [DAY1, DAY2])
def test_quarantine_holds_each_bad_line_with_its_reason(spark, lake, day) -> None:  # type: ignore[no-untyped-def]
    root, _, _ = lake
    truth = _truth(root, day)["counts"]
    quarantine = read_partition(spark, Lake(str(root)), "quarantine", day)
    by_reason = {r.reason: r["count"] for r in quarantine.groupBy("reason").count().collect()}
    assert by_reason == {reason: truth[reason] for reason in rules.REASONS if truth[reason]}
    assert quarantine.where(F.col("raw").isNull()).count() == 0


def test_no_event_is_kept_twice_across_days(spark, lake) -> None:  # type: ignore[no-untyped-def]
    root, _, _ = lake
    lk = Lake(str(root))
    day1, day2 = (read_partition(spark, lk, "visits", d).select("event_id") for d in (DAY1, DAY2))
    assert day2.count() == day2.distinct().count()
    assert day1.join(day2, "event_id").count() == 0


def _visit_text(visits: DataFrame) -> DataFrame:
    """Every value of every visit, as one string."""
    columns = [F.col(c).cast("string") for c in visits.columns]
    return visits.select(F.concat_ws(" ", *columns).alias("text"))


def test_no_raw_ip_or_email_in_visits(spark, lake) -> None:  # type: ignore[no-untyped-def]
    root, _, _ = lake
    lk = Lake(str(root))
    raw_ips = (
        spark.read.json(f"{root}/raw/pixel/*/*.json.gz")
        .select(F.lower(F.trim("ip")).alias("token"))
        .where(F.col("token").rlike(r"^[0-9a-f.:]{7,}$"))
        .distinct()
    )
    assert raw_ips.count() > 50  # the check below has something to find
    for day in (DAY1, DAY2):
        visits = read_partition(spark, lk, "visits", day)
        tokens = _visit_text(visits).select(
            F.explode(F.split(F.lower("text"), r"[^0-9a-f.:]+")).alias("token")
        )
        assert tokens.join(raw_ips, "token").count() == 0
        assert (
            _visit_text(visits).where(F.col("text").rlike(r"[^\s@]+@[^\s@]+\.[a-z]{2,}")).count()
            == 0
        )
        # The network is stored as a keyed hash behind its version tag, never as its text.
        assert visits.where(~F.col("ip_prefix").rlike(r"^v[46]:[0-9a-f]{64}$")).count() == 0


def test_rerun_of_a_day_gives_the_same_output(spark, lake) -> None:  # type: ignore[no-untyped-def]
    root, settings, _ = lake
    lk = Lake(str(root))
    before = {
        t: read_partition(spark, lk, t, DAY2).localCheckpoint()
        for t in ("visits", "quarantine", "reconciliation")
    }
    run_etl(spark, settings, DAY2)
    for table, frame in before.items():
        assertDataFrameEqual(read_partition(spark, lk, table, DAY2), frame)


def test_a_day_without_raw_data_fails_clearly(spark, lake) -> None:  # type: ignore[no-untyped-def]
    _, settings, _ = lake
    with pytest.raises(StageFailed, match="no raw data for 2026-03-03"):
        run_etl(spark, settings, DAY2 + dt.timedelta(days=1))
