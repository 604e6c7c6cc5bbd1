"""A quiet day (a raw partition holding only empty files) runs through the daily chain as a
day of zero visits; the publish gate holds it and says why. A missing raw partition, or one
without any raw file, still fails the etl stage loudly."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest

from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from idgraph.core.stage import StageFailed
from idgraph.pipeline import DAILY_STAGES, run_day
from idgraph.simulator import simulate
from spark_jobs.common.io import read_partition
from spark_jobs.graph.publish import run_publish

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DAY1, QUIET, MISSING = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)


@pytest.fixture(scope="module")
def backfill(spark, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Two days of a small world, the second emptied to one empty file of each raw kind."""
    root = tmp_path_factory.mktemp("quiet-lake")
    simulate(str(root), DAY1, 2, 30, 11)
    quiet_raw = root / f"raw/pixel/dt={QUIET}"
    for path in quiet_raw.iterdir():
        path.unlink()
    (quiet_raw / "part-00000.json").write_bytes(b"")
    (quiet_raw / "part-00001.json.gz").write_bytes(gzip.compress(b""))
    settings = load_settings(lake={"root": str(root)})
    reports = {day: run_day(spark, settings, day) for day in (DAY1, QUIET)}
    return root, settings, reports


def test_the_quiet_day_runs_every_stage_with_zero_visits(spark, backfill) -> None:  # type: ignore[no-untyped-def]
    root, _, reports = backfill
    assert reports[DAY1].ok, reports[DAY1].error
    quiet = reports[QUIET]
    assert quiet.ok, quiet.error
    assert [r.stage for r in quiet.results] == [name for name, _ in DAILY_STAGES]
    etl = quiet.results[0]
    assert etl.summary["lines_read"] == 0 and etl.summary["visits_written"] == 0
    assert "quiet day" in etl.note
    lake = Lake(str(root))
    (reconciliation,) = read_partition(spark, lake, "reconciliation", QUIET).collect()
    assert all(value == 0 for value in reconciliation.asDict().values())
    visits = read_partition(spark, lake, "visits", QUIET)
    assert visits.count() == 0 and "ip_hash" in visits.columns  # exists, empty, with schema
    # Features come from the window (day 1's visits), so the later stages have cookies.
    features = {r.stage: r.summary for r in quiet.results}["features"]
    day1_cookies = {r.stage: r.summary for r in reports[DAY1].results}["features"]["cookies"]
    assert features["cookies"] == day1_cookies > 0


def test_health_flags_the_drop_and_the_publish_gate_holds_the_day(spark, backfill) -> None:  # type: ignore[no-untyped-def]
    root, settings, _ = backfill
    lake = Lake(str(root))
    normal, quiet = (
        read_partition(spark, lake, "health", d).first().asDict()  # type: ignore[union-attr]
        for d in (DAY1, QUIET)
    )
    assert normal["visits_written"] > 0
    assert not any(f.startswith("visit volume") for f in normal["gate_failures"])
    assert quiet["visits_written"] == 0 and not quiet["gate_passed"]
    assert any(f.startswith("visit volume: no visits today") for f in quiet["gate_failures"])
    # The publish stage refuses before it touches Redis (there is none here), naming the cause.
    with pytest.raises(StageFailed, match="gate failed: visit volume: no visits today"):
        run_publish(spark, settings, QUIET)


def test_a_missing_raw_partition_still_fails_clearly(spark, backfill) -> None:  # type: ignore[no-untyped-def]
    root, settings, _ = backfill
    report = run_day(spark, settings, MISSING)
    assert report.failed == "etl" and not report.results
    assert f"no raw data for {MISSING}" in (report.error or "")
    assert "does not exist" in (report.error or "")
    # A partition directory without a single raw file is not a quiet day either.
    Path(root / f"raw/pixel/dt={MISSING}").mkdir(parents=True)
    report = run_day(spark, settings, MISSING)
    assert report.failed == "etl" and "holds no *.{json,json.gz} file" in (report.error or "")
