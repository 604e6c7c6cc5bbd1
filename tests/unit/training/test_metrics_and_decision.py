"""Threshold choice, PR-AUC and the promotion rule: pure functions, synthetic scores."""

from __future__ import annotations

import numpy as np
import pytest

from idgraph.core.model_registry import decide
from idgraph.core.settings import TrainingSettings
from training.metrics import Bin, average_precision, choose_threshold, prf, wilson_lower
from training.model import scale_pos_weight


def _bins(scores: np.ndarray, labels: np.ndarray, step: float = 0.001) -> list[Bin]:
    edges = np.floor(scores / step) * step
    return [
        Bin(float(e), int(labels[edges == e].sum()), int((1 - labels[edges == e]).sum()))
        for e in np.unique(edges)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("target", [0.8, 0.9, 0.95])
def test_threshold_reaches_target_precision_on_synthetic_scores(seed, target):
    rng = np.random.default_rng(seed)
    labels = (rng.random(20_000) < 0.1).astype(int)
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.12), 0, 0.9999)
    choice = choose_threshold(_bins(scores, labels), target_precision=target)
    predicted = scores >= choice.threshold
    precision = labels[predicted].mean()
    assert choice.reached
    assert precision >= target
    assert choice.precision == pytest.approx(precision)
    # The lowest such threshold: one bin lower misses the target (or recall is already 1).
    lower = scores >= choice.threshold - 0.001
    assert labels[lower].mean() < target or labels[lower].sum() == labels.sum()


def test_unreachable_target_links_nothing():
    bins = [Bin(0.2, 5, 5), Bin(0.9, 1, 1)]
    choice = choose_threshold(bins, target_precision=0.95)
    assert (choice.threshold, choice.reached, choice.recall) == (1.0, False, 0.0)


@pytest.mark.parametrize(
    ("bins", "expected"),
    [
        ([Bin(0.9, 10, 0), Bin(0.1, 0, 10)], 1.0),  # perfect ranking
        ([Bin(0.5, 10, 10)], 0.5),  # no ranking: the base rate
        ([Bin(0.9, 1, 0), Bin(0.5, 0, 1), Bin(0.1, 1, 0)], (1 + 2 / 3) / 2),
        ([Bin(0.5, 0, 10)], 0.0),  # no positives
    ],
)
def test_average_precision(bins, expected):
    assert average_precision(bins) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("tp", "fp", "fn", "expected"),
    [(8, 2, 8, (0.8, 0.5, 0.8 * 0.5 * 2 / 1.3)), (0, 0, 5, (0.0, 0.0, 0.0))],
)
def test_prf(tp, fp, fn, expected):
    got = prf(tp, fp, fn)
    assert (got["precision"], got["recall"], got["f1"]) == pytest.approx(expected)


def test_scale_pos_weight_is_the_imbalance_ratio():
    assert scale_pos_weight(100, 900) == 9.0
    assert scale_pos_weight(0, 10) == 1.0


GOOD = {"pr_auc": 0.90, "precision": 0.95, "recall": 0.60, "f1": 0.73}
CFG = TrainingSettings(
    promotion_margin=0.01, guardrail_tolerance=0.02, min_pr_auc=0.6, min_precision=0.85
)


@pytest.mark.parametrize(
    ("challenger", "champion", "promoted", "why"),
    [
        (GOOD, None, True, "first model"),
        (GOOD | {"pr_auc": 0.5}, None, False, "minimum quality"),
        (GOOD | {"precision": 0.7}, None, False, "minimum quality"),
        (GOOD | {"recall": 0.0, "f1": 0.0}, None, False, "recall 0"),
        (GOOD | {"pr_auc": 0.92}, GOOD, True, "no guardrail regressed"),
        (GOOD | {"pr_auc": 0.905}, GOOD, False, "below the margin"),
        (GOOD | {"pr_auc": 0.95, "recall": 0.5}, GOOD, False, "guardrail recall"),
        (GOOD | {"pr_auc": 0.95, "precision": 0.9}, GOOD, False, "guardrail precision"),
        (GOOD | {"pr_auc": 0.95, "precision": 0.94}, GOOD, True, "no guardrail regressed"),
    ],
)
def test_promotion_rule(challenger, champion, promoted, why):
    decision = decide(challenger, champion, CFG)
    assert decision.promoted is promoted
    assert why in decision.reason


def test_a_small_validation_set_must_bear_the_target_out():
    """40 positives and 2 negatives above a threshold look like precision 0.95; the Wilson
    lower bound (z = 1.645) does not, so the confident choice moves up to a cleaner bin."""
    bins = [Bin(0.9, 40, 2), Bin(0.99, 60, 0)]
    loose = choose_threshold(bins, target_precision=0.95)
    strict = choose_threshold(bins, target_precision=0.95, confidence_z=1.645)
    assert loose.threshold == 0.9 and strict.threshold == 0.99
    assert wilson_lower(95, 100, 0.0) == 0.95 and 0.89 < wilson_lower(95, 100, 1.645) < 0.92
