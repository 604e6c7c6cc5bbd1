"""Without a panel, the threshold is chosen on login pairs reweighted towards the pairs the
model will score. Real Spark, real XGBoost (the pair model and the domain classifier).

The seeded world has two kinds of pair: ``f_kind`` 0 (one person's devices on one site, what
login labels mostly see) and 1 (what the unlabelled candidates mostly are), where the signal
is weaker and positives rarer. A threshold chosen on the raw login pairs is therefore too
low for the unlabelled population; the reweighted one must be higher.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from training import reweight as rw
from training.train import train_and_decide

pytestmark = pytest.mark.spark

FEATURES = ["f_signal", "f_kind"]
AS_OF = dt.date(2026, 3, 31)
KIND1_LABELLED, KIND1_UNLABELLED = 0.15, 0.85


def _pairs(rng: np.random.Generator, n: int, kind1_share: float, prefix: str) -> pd.DataFrame:
    kind = (rng.random(n) < kind1_share).astype("int32")
    label = (rng.random(n) < np.where(kind == 1, 0.10, 0.25)).astype("int32")
    signal = label * np.where(kind == 1, 2.2, 4.0) + rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "site_id_l": "s1",
            "cookie_id_l": [f"{prefix}l{i}" for i in range(n)],
            "site_id_r": "s2",
            "cookie_id_r": [f"{prefix}r{i}" for i in range(n)],
            "f_signal": signal,
            "f_kind": kind.astype("float64"),
            "label": label,
        }
    )


def _world(spark, seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    labelled = _pairs(rng, 8000, KIND1_LABELLED, "a")
    labelled["split"] = rng.choice(
        ["train", "validation", "test"], len(labelled), p=[0.5, 0.3, 0.2]
    )
    unlabelled = _pairs(rng, 3000, KIND1_UNLABELLED, "u").drop(columns=["label"])
    return spark.createDataFrame(labelled), spark.createDataFrame(unlabelled)


def _settings(tmp_path, **training):  # type: ignore[no-untyped-def]
    return load_settings(
        lake={"root": str(tmp_path / "lake")},
        training={
            "n_estimators": 30,
            "max_depth": 3,
            "num_workers": 1,
            "monotone": False,
            **training,
        },
    )


def _last_decision(spark, settings):  # type: ignore[no-untyped-def]
    rows = spark.read.text(Lake(settings.lake.root).path("training", "decisions")).collect()
    return sorted((json.loads(r["value"]) for r in rows), key=lambda d: d["model_version"])[-1]


def test_domain_odds_recover_the_density_ratio(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    labelled, unlabelled = _world(spark, seed=5)
    raw = rw.fit_domain_classifier(
        rw.domain_training_set(labelled, unlabelled, ["f_kind"]),
        feature_columns=["f_kind"],
        num_workers=1,
        seed=1,
    )
    from spark_jobs.pair_scoring.scoring import broadcast_booster, score_pairs

    scored = score_pairs(
        labelled,
        booster=broadcast_booster(spark, raw),
        feature_columns=["f_kind"],
        keep=["label", "f_kind"],
        score_col="p",
    ).withColumn(rw.ODDS_COL, rw.odds("p"))
    weighted = rw.clip_and_normalise(scored, clip=50.0)
    by_kind = {
        int(r["f_kind"]): r["w"]
        for r in weighted.groupBy("f_kind").agg(F.avg(rw.WEIGHT_COL).alias("w")).collect()
    }
    expected = (KIND1_UNLABELLED / KIND1_LABELLED) / ((1 - KIND1_UNLABELLED) / (1 - KIND1_LABELLED))
    assert by_kind[1] / by_kind[0] == pytest.approx(expected, rel=0.25)
    assert weighted.agg(F.avg(rw.WEIGHT_COL)).first()[0] == pytest.approx(1.0, abs=1e-6)
    sizes = rw.effective_sizes(weighted)
    assert 0 < sizes.effective_positives < sizes.positives
    assert 0 < sizes.effective_negatives < sizes.negatives


def test_the_reweighted_threshold_differs_and_falls_back_when_too_thin(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    labelled, unlabelled = _world(spark, seed=11)
    settings = _settings(tmp_path)
    result = train_and_decide(
        spark,
        settings,
        AS_OF,
        examples=labelled,
        feature_columns=FEATURES,
        unlabelled=unlabelled,
    )
    assert result.summary["threshold_from"] == rw.REWEIGHTED, result.summary
    decision = _last_decision(spark, settings)
    weights = decision["reweighting"]
    assert weights["used"] is True
    # On the population it is applied to, the login threshold misses the target …
    assert weights["weighted_precision_at_unweighted"] < settings.training.target_precision
    # … so the reweighted threshold is stricter, and it is the one the model carries.
    assert weights["weighted_threshold"] > weights["unweighted_threshold"] + 0.01
    assert decision["threshold"] == pytest.approx(weights["weighted_threshold"])
    assert "reweighted" in decision["threshold_note"]

    # The same world with a bar on the effective sample size it cannot clear: the decision
    # says why, and the unweighted threshold stands.
    strict = _settings(tmp_path, min_effective_positives=1e6)
    fallback = train_and_decide(
        spark, strict, AS_OF, examples=labelled, feature_columns=FEATURES, unlabelled=unlabelled
    )
    assert fallback.summary["threshold_from"] == "login"
    decision = _last_decision(spark, strict)
    assert decision["reweighting"]["used"] is False
    assert "not trusted" in decision["threshold_note"]
    assert decision["threshold"] == pytest.approx(decision["reweighting"]["unweighted_threshold"])
