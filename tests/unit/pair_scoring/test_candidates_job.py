"""The candidates stage on a tiny lake: writes its partition, summarises, refuses no input."""

from __future__ import annotations

import datetime as dt

import pytest
from pair_world import cookie

from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from idgraph.core.stage import StageFailed
from spark_jobs.common.io import read_partition, write_partition
from spark_jobs.common.schemas import CANDIDATE_PAIRS, missing_columns
from spark_jobs.pair_scoring.candidates_job import run_candidates

pytestmark = pytest.mark.spark

DAY = dt.date(2026, 11, 5)


def test_stage_writes_candidates_and_summarises(make_features, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(str(tmp_path))
    crowd = [cookie(f"site{i % 3}", f"crowd{i}", ips=[("cafe.1", 80)]) for i in range(6)]
    household = [
        cookie("siteA", "laptop", ips=["home.1"]),
        cookie("siteB", "laptop", ips=["home.1"]),
        cookie("siteB", "phone", ips=["home.1"], ua=("Mobile Safari", 17, "iOS", "mobile")),
    ]
    write_partition(make_features(crowd + household), lake, "cookie_features", DAY)
    settings = load_settings(lake={"root": str(tmp_path)}, pairs={"max_block_size": 5})

    result = run_candidates(make_features([]).sparkSession, settings, DAY)

    written = read_partition(make_features([]).sparkSession, lake, "candidate_pairs", DAY)
    assert missing_columns(written, CANDIDATE_PAIRS) == []
    s = result.summary
    # The café's 6 cookies exceed the cap of 5 (IP and prefix blocks): only the household.
    assert (s["cookies"], s["candidate_pairs"], written.count()) == (9, 3, 3)
    assert s["pairs_per_cookie"] == pytest.approx(3 / 9, abs=0.01)
    assert (s["skipped_blocks_ip"], s["skipped_cookies_ip"]) == (1, 6)
    assert (s["skipped_blocks_prefix_ua"], s["skipped_cookies_prefix_ua"]) == (1, 6)
    assert (s["pairs_ip"], s["pairs_prefix_ua"]) == (3, 1)
    assert s["max_pairs_of_a_cookie"] == 2


def test_stage_without_features_fails_clearly(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(lake={"root": str(tmp_path)})
    with pytest.raises(StageFailed, match="no cookie_features"):
        run_candidates(spark, settings, DAY)
