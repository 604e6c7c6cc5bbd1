"""Binary-classification metrics computed without collecting scored rows.

Scores are summarised in Spark into a histogram over logit-spaced bins (a few thousand rows
at most, whatever the data size); the threshold search and PR-AUC then run on the histogram
on the driver. Logit spacing keeps the resolution where it matters: scores of a model trained
with ``scale_pos_weight`` crowd near 0 and 1. Precision, recall and F1 at a chosen threshold
are exact Spark aggregates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

LOGIT_MIN, LOGIT_MAX, LOGIT_STEP = -20.0, 20.0, 0.01


def c2(n: Column) -> Column:
    """C(n, 2) as a long."""
    return (n * (n - 1) / 2).cast("long")


@dataclass(frozen=True)
class Bin:
    """Scores at or above ``lower`` (and below the next bin's ``lower``): label counts."""

    lower: float
    positives: float  # a count, or a sum of importance weights
    negatives: float


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen decision threshold and what it achieves on the data it was chosen on."""

    threshold: float
    precision: float
    recall: float
    reached: bool  # whether the target precision was reachable at all


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def score_histogram(
    scored: DataFrame,
    *,
    score_col: str = "score",
    label_col: str = "label",
    weight_col: str | None = None,
):  # type: ignore[no-untyped-def]
    """Label counts per logit-spaced score bin (a small DataFrame: ``bin``, ``pos``, ``neg``).

    With ``weight_col`` the counts are sums of the rows' weights (importance-weighted
    precision, see ``training.reweight``).
    """
    eps = 1e-12
    p = F.least(F.greatest(F.col(score_col), F.lit(eps)), F.lit(1 - eps))
    logit = F.least(F.greatest(F.log(p / (1 - p)), F.lit(LOGIT_MIN)), F.lit(LOGIT_MAX))
    label = F.col(label_col)
    if weight_col is None:
        pos, neg = F.sum(label).cast("long"), F.sum(1 - label).cast("long")
    else:
        w = F.col(weight_col).cast("double")
        pos, neg = F.sum(w * label), F.sum(w * (1 - label))
    return (
        scored.withColumn("bin", F.floor((logit - LOGIT_MIN) / LOGIT_STEP).cast("int"))
        .groupBy("bin")
        .agg(pos.alias("pos"), neg.alias("neg"))
    )


def bins_from_rows(rows: Iterable) -> list[Bin]:  # type: ignore[type-arg]
    """Turn collected ``score_histogram`` rows into bins with probability lower edges."""
    return [
        Bin(
            lower=0.0 if r["bin"] <= 0 else _sigmoid(LOGIT_MIN + r["bin"] * LOGIT_STEP),
            positives=r["pos"] if isinstance(r["pos"], float) else int(r["pos"]),
            negatives=r["neg"] if isinstance(r["neg"], float) else int(r["neg"]),
        )
        for r in rows
    ]


def _descending_curve(bins: Iterable[Bin]) -> list[tuple[float, float, float]]:
    """(threshold, true positives, false positives) cumulated from the highest bin down."""
    tp = fp = 0.0
    curve = []
    for b in sorted(bins, key=lambda b: b.lower, reverse=True):
        tp += b.positives
        fp += b.negatives
        curve.append((b.lower, tp, fp))
    return curve


def wilson_lower(successes: float, trials: float, z: float) -> float:
    """Lower end of the Wilson score interval of a proportion (``z`` = 0: the proportion)."""
    if not trials:
        return 0.0
    p = successes / trials
    if not z:
        return p
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (centre - spread) / (1 + z * z / trials)


def choose_threshold(
    bins: Iterable[Bin], *, target_precision: float, confidence_z: float = 0.0
) -> ThresholdChoice:
    """The lowest threshold whose precision reaches ``target_precision`` (the most recall).

    With ``confidence_z`` > 0 the precision must reach the target at the lower end of its
    Wilson interval: on a small validation set (a few panelists) a point estimate of 0.95 is
    often luck, and the threshold moves up until the evidence bears the target out.

    When no threshold reaches it, the threshold is 1.0 (no pair passes) and ``reached`` is
    False, so a model that cannot meet the target never links anything.
    """
    curve = _descending_curve(bins)
    total_pos = curve[-1][1] if curve else 0
    best: ThresholdChoice | None = None
    for threshold, tp, fp in curve:
        if tp and wilson_lower(tp, tp + fp, confidence_z) >= target_precision:
            best = ThresholdChoice(threshold, tp / (tp + fp), tp / total_pos, True)
    return best or ThresholdChoice(1.0, 0.0, 0.0, False)


def precision_at(bins: Iterable[Bin], threshold: float) -> float:
    """Precision of the pairs scored at or above ``threshold`` (0 when there are none)."""
    bins = list(bins)
    tp = sum(b.positives for b in bins if b.lower >= threshold)
    fp = sum(b.negatives for b in bins if b.lower >= threshold)
    return tp / (tp + fp) if tp + fp else 0.0


def average_precision(bins: Iterable[Bin]) -> float:
    """PR-AUC as average precision: sum over thresholds of precision x recall increment."""
    curve = _descending_curve(bins)
    total_pos = curve[-1][1] if curve else 0
    if not total_pos:
        return 0.0
    ap, prev_tp = 0.0, 0.0
    for _, tp, fp in curve:
        if tp > prev_tp:
            ap += (tp - prev_tp) / total_pos * tp / (tp + fp)
            prev_tp = tp
    return ap


def counts_at_threshold(
    scored: DataFrame, *, threshold: float, score_col: str = "score", label_col: str = "label"
) -> DataFrame:
    """One row: tp, fp, fn, tn at ``score >= threshold``."""
    predicted = F.col(score_col) >= F.lit(threshold)
    actual = F.col(label_col) == 1
    return scored.agg(
        F.count(F.when(predicted & actual, 1)).alias("tp"),
        F.count(F.when(predicted & ~actual, 1)).alias("fp"),
        F.count(F.when(~predicted & actual, 1)).alias("fn"),
        F.count(F.when(~predicted & ~actual, 1)).alias("tn"),
    )


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall and F1 (0 where undefined)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def evaluate_scores(scored: DataFrame, *, threshold: float) -> dict[str, float]:
    """PR-AUC plus precision/recall/F1 at ``threshold`` of a scored, labelled DataFrame.

    Collects only the histogram (bounded) and one row of counts.
    """
    bins = bins_from_rows(score_histogram(scored).collect())
    counts = counts_at_threshold(scored, threshold=threshold).first()
    assert counts is not None
    tp, fp, fn, tn = (int(counts[k]) for k in ("tp", "fp", "fn", "tn"))
    return {
        "pr_auc": average_precision(bins),
        **prf(tp, fp, fn),
        "threshold": threshold,
        "positives": tp + fn,
        "negatives": fp + tn,
        "predicted_positive": tp + fp,
    }
