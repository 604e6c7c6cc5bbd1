"""Train -> score on a small simulated lake, through the real stage functions.

The history runs with no model (scoring writes explicit empty days), the first model is
trained and promoted, and the last day is re-scored with it.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import functions as F

from idgraph.pipeline import DAILY_STAGES, day_range, run_day
from idgraph.settings import load_settings
from idgraph.simulator import simulate
from spark_jobs.common.io import read_partition
from spark_jobs.common.paths import Lake
from spark_jobs.pair_scoring.scoring_job import NO_CHAMPION, run_scoring
from training.evaluate import run_evaluation
from training.registry import load_champion
from training.train import run_training

# Simulating and running eight days is minutes of work on two shared cores.
pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.timeout(1200)]

START = dt.date(2026, 2, 2)
DAYS = 8
UP_TO_SCORING = tuple(
    s for s in DAILY_STAGES if s[0] in ("etl", "features", "candidates", "scoring")
)


def test_train_then_score_on_a_small_simulated_lake(spark, tmp_path):
    root = str(tmp_path / "lake")
    simulate(root, START, DAYS, 300, 5)
    settings = load_settings(
        lake={"root": root},
        training={
            "n_estimators": 40,
            "max_depth": 4,
            "num_workers": 1,
            "min_positives": 5,
            "min_negatives": 5,
            "min_pr_auc": 0.3,
            "min_precision": 0.5,
            "target_precision": 0.9,
        },
    )
    days = day_range(START, START + dt.timedelta(days=DAYS - 1))
    for day in days:
        report = run_day(spark, settings, day, stages=UP_TO_SCORING)
        assert report.ok, report.error
    scoring = report.results[-1]
    assert scoring.skipped and scoring.note == NO_CHAMPION

    trained = run_training(spark, settings, days[-1])
    assert not trained.skipped, trained.note
    assert trained.summary["promoted"] is True, trained.summary
    assert trained.summary["test_pr_auc"] > 0.5

    champion = load_champion(settings)
    assert champion is not None
    result = run_scoring(spark, settings, days[-1])
    assert not result.skipped
    lake = Lake(root)
    candidates = read_partition(spark, lake, "candidate_pairs", days[-1]).count()
    scored = read_partition(spark, lake, "scored_pairs", days[-1])
    assert result.summary["pairs_scored"] == candidates == scored.count()
    assert {r[0] for r in scored.select("model_version").distinct().collect()} == {champion.version}
    assert (
        scored.where(F.col("score").isNull() | (F.col("score") < 0) | (F.col("score") > 1)).count()
        == 0
    )

    # Evaluation of the day against the simulator's truth (no graph stage run here: the
    # fallback counts scored edges at the threshold plus deterministic links).
    out = tmp_path / "eval.json"
    figures = run_evaluation(spark, settings, days[-1], out=str(out))
    assert json.loads(out.read_text())["day"] == days[-1].isoformat()
    assert figures["true_pairs"] > 0 and figures["cookies"] > figures["anonymous_cookies"] > 0
    graph, deterministic = figures["methods"]["graph"], figures["methods"]["deterministic"]
    assert graph["recall"] >= deterministic["recall"]  # scored edges only add links
    assert 0 < figures["candidates"]["recall"] <= 1
    assert figures["candidates"]["pairs"] == candidates
