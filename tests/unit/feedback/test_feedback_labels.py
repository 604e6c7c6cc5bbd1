"""Feedback verdicts become training labels: drained from a real Valkey stream into the lake,
read as labels with the per-key cap, written into a training run's snapshots, always on the
train side, and weighted in the fit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import redis
from pyspark.sql import DataFrame

from idgraph.core import keyspace as ks
from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from spark_jobs.common.feedback import feedback_labels
from spark_jobs.common.feedback_drain import drain_feedback
from spark_jobs.common.io import write_partition
from training import examples as ex
from training.dataset import TRAIN, SplitDates
from training.train import _label_counts, build_snapshot_examples

pytestmark = [pytest.mark.spark]
H1, H2, P1 = "a" * 64, "b" * 64, "1" * 64
PAIRS = "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string"

# (case, login of l, login of r, panelist of l, panelist of r, verdict, label, source)
CASES = [
    ("anon-same", None, None, None, None, "same_person", 1, ex.FEEDBACK),
    ("anon-apart", None, None, None, None, "different_people", 0, ex.FEEDBACK),
    # Two people behind one login (a shared family account): the verdict wins over the login.
    ("shared-login", H1, H1, None, None, "different_people", 0, ex.FEEDBACK),
    ("two-emails", H1, H2, None, None, "same_person", 1, ex.FEEDBACK),
    # The consented panel is truth: a verdict does not overrule it.
    ("panel-wins", None, None, P1, P1, "different_people", 1, ex.PANEL),
    ("login-only", H1, H1, None, None, None, 1, ex.LOGIN),
    ("nobody", None, None, None, None, None, None, None),
]


def _frames(spark: Any) -> tuple[DataFrame, DataFrame, DataFrame, DataFrame]:
    pairs = spark.createDataFrame([("s1", f"{c}-l", "s2", f"{c}-r") for c, *_ in CASES], PAIRS)
    cookies = [
        (site, f"{c}-{side}", login, panel)
        for c, ll, lr, pl, pr, *_ in CASES
        for site, side, login, panel in (("s1", "l", ll, pl), ("s2", "r", lr, pr))
    ]
    features = spark.createDataFrame(
        [r[:3] for r in cookies], "site_id string, cookie_id string, login_hash string"
    )
    panel = spark.createDataFrame(
        [r[:2] + (r[3],) for r in cookies if r[3]],
        "site_id string, cookie_id string, panel_id string",
    )
    verdicts = spark.createDataFrame(
        [
            ("s1", f"{c}-l", "s2", f"{c}-r", 1 if v == "same_person" else 0, 0.5, None)
            for c, *_, v, _, _ in CASES
            if v
        ]  # fmt: skip
        + [("s1", "not-a-candidate", "s2", "x", 1, 1.0, None)],
        f"{PAIRS}, label int, weight double, received_at timestamp",
    )
    return pairs, features, panel, verdicts


def test_verdicts_label_candidate_pairs_under_the_panel(spark: Any) -> None:
    pairs, features, panel, verdicts = _frames(spark)
    got = {
        r["cookie_id_l"].removesuffix("-l"): (r["label"], r["label_source"], r["feedback_weight"])
        for r in ex.labelled_candidates(pairs, features, panel, verdicts).collect()
    }
    expected = {
        c: (label, source, 0.5 if source == ex.FEEDBACK else None)
        for c, *_, label, source in CASES
        if label is not None
    }
    assert got == expected  # the verdict on a pair that is no candidate labels nothing
    unlabelled = ex.unlabelled_candidates(pairs, features, panel, verdicts).collect()
    assert [r["cookie_id_l"] for r in unlabelled] == ["nobody-l"]
    # Sampling never thins verdicts away (nor panel pairs).
    kept = ex.sample_pairs(ex.labelled_candidates(pairs, features, panel, verdicts), 1e-9)
    assert {r["label_source"] for r in kept.collect()} == {ex.FEEDBACK, ex.PANEL}


@pytest.mark.redis
def test_a_same_person_verdict_becomes_a_train_label(
    spark: Any, client: redis.Redis, tmp_path: Any
) -> None:
    """From ``POST /v1/feedback``'s stream to a weighted row of the train split."""
    lake = Lake(str(tmp_path / "lake"))
    settings = load_settings(lake={"root": lake.root})
    d0 = dt.date(2026, 5, 1)
    pairs, features, _, _ = _frames(spark)
    for day in (d0, d0 + dt.timedelta(days=1)):
        write_partition(pairs, lake, "candidate_pairs", day)
        write_partition(features, lake, "cookie_features", day)
    # One loud key sends four verdicts, a quiet one sends one: the loud key's are capped.
    for case, key in (("anon-same", "quiet"), ("anon-apart", "loud"), ("shared-login", "loud"),
                      ("two-emails", "loud"), ("panel-wins", "loud")):  # fmt: skip
        verdict = next(v for c, *_, v, _, _ in CASES if c == case)
        client.xadd(
            ks.FEEDBACK_KEY,
            ks.feedback_entry(
                a=("s1", f"{case}-l"), b=("s2", f"{case}-r"), verdict=verdict,
                key_id=ks.api_key_id(key), received_at="2026-05-01T10:00:00+00:00",
            ),
        )  # fmt: skip
    drain_feedback(spark, settings, d0, client=client)
    labels = feedback_labels(spark, lake, d0 + dt.timedelta(days=1), max_share_per_key=0.5)
    weights = {r["cookie_id_l"]: r["weight"] for r in labels.collect()}
    assert weights["anon-same-l"] == 1.0 and weights["anon-apart-l"] == pytest.approx(0.25)
    # Drained after the as-of day: not seen.
    assert feedback_labels(spark, lake, d0 - dt.timedelta(days=1)).count() == 0

    counts = build_snapshot_examples(
        spark,
        lake,
        run="r1",
        days=[d0, d0 + dt.timedelta(days=1)],
        max_examples=1,  # login pairs sampled (almost) away; verdicts never are
        build_features=lambda labelled, _features: labelled,
        feedback=labels,
    )
    assert all(c["feedback_labelled"] == 5 for c in counts.values())
    dates = SplitDates(d0, d0, d0 + dt.timedelta(days=1))  # every login pair validates/tests
    selected = ex.select_examples(ex.read_run(spark, lake, "r1"), dates=dates).cache()
    verdict_rows = {
        r["cookie_id_l"]: (r["label"], r["split"], r["feedback_weight"])
        for r in selected.where(f"label_source = '{ex.FEEDBACK}'").collect()
    }
    assert verdict_rows == {
        "anon-same-l": (1, TRAIN, 1.0),
        "anon-apart-l": (0, TRAIN, pytest.approx(0.25)),
        "shared-login-l": (0, TRAIN, pytest.approx(0.25)),
        "two-emails-l": (1, TRAIN, pytest.approx(0.25)),
        "panel-wins-l": (0, TRAIN, pytest.approx(0.25)),  # without a panel, the verdict labels
    }
    counts_by_split = _label_counts(selected)
    assert counts_by_split[TRAIN]["feedback_positives"] == 2
    assert counts_by_split[TRAIN]["feedback_negatives"] == 3
    assert sum(c["feedback_positives"] for c in counts_by_split.values()) == 2  # train only
