"""Training with xgboost.spark, the MLflow registry, champion/challenger and daily scoring.

Real Spark, real XGBoost, a real MLflow SQLite store per test lake. Synthetic examples with a
known signal keep the models small and the outcomes certain.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from pyspark.sql import functions as F

from idgraph.core import model_registry as registry
from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from spark_jobs.common.io import read_partition
from spark_jobs.common.schemas import PAIR_KEYS, SCORED_PAIRS
from spark_jobs.pair_scoring.scoring import broadcast_booster, score_pairs
from spark_jobs.pair_scoring.scoring_job import NO_CHAMPION, run_scoring
from training.model import fit_classifier
from training.train import train_and_decide

pytestmark = pytest.mark.spark

FEATURES = ["f_signal", "f_other", "f_weak"]
AS_OF = dt.date(2026, 3, 31)


def make_examples(spark, *, seed: int, n: int = 3000, signal: float = 3.0):
    """Seeded examples: ``f_signal`` separates the classes, ``f_weak`` barely, the rest noise."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.2).astype("int32")
    frame = pd.DataFrame(
        {
            "site_id_l": "s1",
            "cookie_id_l": [f"l{i}" for i in range(n)],
            "site_id_r": "s2",
            "cookie_id_r": [f"r{i}" for i in range(n)],
            "f_signal": label * signal + rng.normal(0, 1, n),
            "f_other": rng.normal(0, 1, n),
            "f_weak": label * 1.2 + rng.normal(0, 1, n),
            "split": rng.choice(["train", "validation", "test"], n, p=[0.6, 0.2, 0.2]),
            "label": label,
        }
    )
    return spark.createDataFrame(frame)


def shuffle_labels(examples, seed: int):
    """Labels shuffled outside the test batch: a model that learns nothing."""
    shuffled = examples.withColumn(
        "label",
        F.when(F.col("split") == "test", F.col("label")).otherwise(
            F.when(F.rand(seed) < 0.2, 1).otherwise(0)
        ),
    )
    return shuffled


def settings_for(tmp_path, **training):
    return load_settings(
        lake={"root": str(tmp_path / "lake")},
        training={"n_estimators": 30, "max_depth": 4, "num_workers": 1, **training},
    )


def test_spark_model_scores_like_plain_xgboost(spark, tmp_path):
    cfg = settings_for(tmp_path).training
    examples = make_examples(spark, seed=11, n=1500)
    model = fit_classifier(
        examples.where("split = 'train'"),
        feature_columns=FEATURES,
        settings=cfg,
        num_workers=1,
        pos_weight=4.0,
    )
    path = tmp_path / "model.ubj"
    model.get_booster().save_model(str(path))
    plain = xgb.Booster()
    plain.load_model(str(path))

    test = examples.where("split = 'test'").orderBy("cookie_id_l")
    spark_scores = model.transform(test).select("cookie_id_l", "probability").toPandas()
    frame = test.select("cookie_id_l", *FEATURES).toPandas()
    plain_scores = plain.predict(
        xgb.DMatrix(frame[FEATURES].to_numpy(dtype=np.float32), feature_names=FEATURES)
    )
    ours = (
        score_pairs(
            test,
            booster=broadcast_booster(spark, bytes(plain.save_raw("ubj"))),
            feature_columns=FEATURES,
            keep=["cookie_id_l"],
        )
        .toPandas()
        .set_index("cookie_id_l")
        .loc[frame["cookie_id_l"], "score"]
        .to_numpy()
    )
    spark_p1 = np.array(
        [
            v[1]
            for v in spark_scores.set_index("cookie_id_l").loc[frame["cookie_id_l"], "probability"]
        ]
    )
    assert len(frame) > 200
    np.testing.assert_allclose(spark_p1, plain_scores, atol=1e-6)
    np.testing.assert_allclose(ours, plain_scores, atol=1e-6)
    assert plain_scores.std() > 0.1  # a model that actually separates, not a constant


@pytest.mark.parametrize("monotone", [True, False])
def test_the_score_never_falls_as_evidence_grows(spark, tmp_path, monotone):
    """Labels that peak in the middle of an evidence feature (a quirk of a small sample)."""
    rng = np.random.default_rng(5)
    n = 2000
    ip = rng.uniform(0, 6, n)
    frame = pd.DataFrame(
        {
            "ip_shared": ip,  # evidence: constrained when ``monotone``
            "events_ratio": rng.uniform(0, 1, n),  # not evidence: free
            "label": ((ip > 2) & (ip < 4)).astype("int32"),
        }
    )
    features = ["ip_shared", "events_ratio"]
    cfg = settings_for(tmp_path, monotone=monotone).training
    model = fit_classifier(
        spark.createDataFrame(frame),
        feature_columns=features,
        settings=cfg,
        num_workers=1,
        pos_weight=1.0,
    )
    grid = np.column_stack([np.linspace(0, 6, 61), np.full(61, 0.5)]).astype(np.float32)
    scores = model.get_booster().predict(xgb.DMatrix(grid, feature_names=features))
    steps = np.diff(scores)
    if monotone:
        assert (steps >= -1e-6).all()
        assert scores[30] > scores[0] + 0.2  # it still learns that more evidence helps
    else:  # the same data without the constraint: the score falls past the peak
        assert steps.min() < -0.2


def test_first_model_is_promoted_then_a_worse_challenger_is_not(spark, tmp_path):
    settings = settings_for(tmp_path)
    examples = make_examples(spark, seed=21)
    first = train_and_decide(spark, settings, AS_OF, examples=examples, feature_columns=FEATURES)
    assert first.summary["promoted"] is True, first.summary
    assert first.summary["test_pr_auc"] > 0.9

    client = registry.connect(settings)
    name = settings.training.model_name
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "1"
    champion = registry.load_champion(settings)
    assert champion is not None
    assert champion.feature_columns == FEATURES
    assert champion.threshold == pytest.approx(first.summary["threshold"], abs=1e-4)
    # The registered artefact is a plain booster usable outside Spark.
    assert isinstance(champion.booster, xgb.Booster)

    worse = train_and_decide(
        spark, settings, AS_OF, examples=shuffle_labels(examples, seed=3), feature_columns=FEATURES
    )
    assert worse.summary["promoted"] is False, worse.summary
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(name, "challenger").version) == "2"
    # Both models were judged on the same test batch: the champion's figures are there.
    assert worse.summary["champion_pr_auc"] == pytest.approx(first.summary["test_pr_auc"])

    decisions = [
        json.loads(r["value"])
        for r in spark.read.text(Lake(settings.lake.root).path("training", "decisions")).collect()
    ]
    assert sorted(d["promoted"] for d in decisions) == [False, True]
    assert all("challenger" in d and d["reason"] for d in decisions)


def test_a_better_challenger_replaces_the_champion(spark, tmp_path):
    settings = settings_for(tmp_path, target_precision=0.8, min_precision=0.5, min_pr_auc=0.3)
    examples = make_examples(spark, seed=31)
    weak = train_and_decide(
        spark, settings, AS_OF, examples=examples, feature_columns=["f_weak", "f_other"]
    )
    assert weak.summary["promoted"] is True, weak.summary
    better = train_and_decide(spark, settings, AS_OF, examples=examples, feature_columns=FEATURES)
    assert better.summary["promoted"] is True, better.summary
    assert better.summary["test_pr_auc"] > weak.summary["test_pr_auc"] + 0.1
    champion = registry.load_champion(settings)
    assert champion is not None and champion.version == "2"


def test_too_few_labels_trains_nothing_and_says_so(spark, tmp_path):
    settings = settings_for(tmp_path)
    tiny = make_examples(spark, seed=41, n=60)
    result = train_and_decide(spark, settings, AS_OF, examples=tiny, feature_columns=FEATURES)
    assert result.skipped and "too few labelled pairs" in result.note
    assert registry.load_champion(settings) is None


def _write_day(spark, lake: Lake, day: dt.date, n: int = 400) -> None:
    rng = np.random.default_rng(5)
    cookies = pd.DataFrame(
        {
            "site_id": "s",
            "cookie_id": [f"c{i}" for i in range(n)],
            "a": rng.normal(0, 2, n),
            "b": rng.normal(0, 1, n),
        }
    )
    spark.createDataFrame(cookies).write.mode("overwrite").parquet(
        lake.partition("cookie_features", day)
    )
    pairs = pd.DataFrame(
        {
            "site_id_l": "s",
            "cookie_id_l": [f"c{i}" for i in range(0, n, 2)],
            "site_id_r": "s",
            "cookie_id_r": [f"c{i}" for i in range(1, n, 2)],
        }
    )
    spark.createDataFrame(pairs).withColumn("blocking_keys", F.array(F.lit("ip"))).write.mode(
        "overwrite"
    ).parquet(lake.partition("candidate_pairs", day))


def _fake_pair_features(pairs, features):
    left = features.select(
        F.col("cookie_id").alias("cookie_id_l"), F.col("a").alias("a_l"), F.col("b").alias("b_l")
    )
    right = features.select(
        F.col("cookie_id").alias("cookie_id_r"), F.col("a").alias("a_r"), F.col("b").alias("b_r")
    )
    joined = pairs.join(left, "cookie_id_l").join(right, "cookie_id_r")
    return joined.select(
        *PAIR_KEYS,
        (F.col("a_l") + F.col("a_r")).alias("f_signal"),
        (F.col("b_l") * F.col("b_r")).alias("f_other"),
        (F.col("a_l") - F.col("b_r")).alias("f_weak"),
    )


def test_scoring_without_a_champion_is_explicit_and_links_nothing(spark, tmp_path):
    settings = settings_for(tmp_path)
    lake = Lake(settings.lake.root)
    _write_day(spark, lake, AS_OF)
    result = run_scoring(spark, settings, AS_OF, build_features=_fake_pair_features)
    assert result.skipped and result.note == NO_CHAMPION
    written = read_partition(spark, lake, "scored_pairs", AS_OF)
    assert written.count() == 0
    assert [f.name for f in written.schema] == [f.name for f in SCORED_PAIRS]


def test_scoring_with_a_champion_writes_every_pair_with_the_champions_scores(spark, tmp_path):
    settings = settings_for(tmp_path)
    lake = Lake(settings.lake.root)
    first = train_and_decide(
        spark, settings, AS_OF, examples=make_examples(spark, seed=51), feature_columns=FEATURES
    )
    assert first.summary["promoted"] is True
    _write_day(spark, lake, AS_OF)
    result = run_scoring(spark, settings, AS_OF, build_features=_fake_pair_features)
    assert not result.skipped
    assert result.summary["pairs_scored"] == 200
    assert result.summary["model_version"] == "1"

    written = read_partition(spark, lake, "scored_pairs", AS_OF).toPandas()
    champion = registry.load_champion(settings)
    assert champion is not None
    feats = _fake_pair_features(
        read_partition(spark, lake, "candidate_pairs", AS_OF),
        read_partition(spark, lake, "cookie_features", AS_OF),
    ).toPandas()
    merged = feats.merge(written, on=PAIR_KEYS)
    expected = champion.booster.predict(
        xgb.DMatrix(merged[FEATURES].to_numpy(dtype=np.float32), feature_names=FEATURES)
    )
    np.testing.assert_allclose(merged["score"], expected, atol=1e-6)
    assert set(written["model_version"]) == {"1"}
    assert set(written["threshold"]) == {champion.threshold}
    assert result.summary["above_threshold"] == int((expected >= champion.threshold).sum())
