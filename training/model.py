"""Fitting the pair classifier with ``xgboost.spark`` so training scales with the cluster."""

from __future__ import annotations

import os
import re

from pyspark.sql import DataFrame, SparkSession

from idgraph.core.settings import TrainingSettings
from spark_jobs.pair_scoring.pair_features import monotone_constraints

_LOCAL_MASTER = re.compile(r"^local(?:\[(\d+|\*)(?:,\d+)?\])?$")


def resolve_num_workers(spark: SparkSession, configured: int) -> int:
    """XGBoost workers: the configured number, else one per task slot.

    In local mode the slots are the master's thread count; ``spark.default.parallelism`` can
    be larger there, and asking the barrier stage for more workers than slots hangs it.
    """
    if configured:
        return configured
    match = _LOCAL_MASTER.match(spark.sparkContext.master)
    if match:
        threads = match.group(1)
        if threads is None:
            return 1
        if threads == "*":
            return os.cpu_count() or 1
        return int(threads)
    return max(1, spark.sparkContext.defaultParallelism)


def scale_pos_weight(positives: int, negatives: int) -> float:
    """Weight of the positive class: negatives per positive (1.0 when balanced or empty).

    Candidate pairs are mostly negatives (strangers behind a shared IP); weighting the rare
    positives by the imbalance ratio balances the gradient without throwing data away, as
    down-sampling would. Scores stop being calibrated probabilities, which is fine: the
    decision threshold is chosen on validation data for a target precision, not at 0.5.
    """
    if positives <= 0 or negatives <= 0:
        return 1.0
    return negatives / positives


def fit_classifier(
    train: DataFrame,
    *,
    feature_columns: list[str],
    settings: TrainingSettings,
    num_workers: int,
    pos_weight: float,
    label_col: str = "label",
    weight_col: str | None = None,
):  # type: ignore[no-untyped-def]
    """Fit a ``SparkXGBClassifier`` on ``train`` (feature columns + integer label).

    Returns:
        The fitted ``SparkXGBClassifierModel``; ``.get_booster()`` gives the plain booster.
    """
    from xgboost.spark import SparkXGBClassifier

    extra = (
        {"monotone_constraints": monotone_constraints(feature_columns)} if settings.monotone else {}
    )
    classifier = SparkXGBClassifier(
        features_col=feature_columns,
        label_col=label_col,
        num_workers=num_workers,
        n_estimators=settings.n_estimators,
        max_depth=settings.max_depth,
        learning_rate=settings.learning_rate,
        scale_pos_weight=pos_weight,
        tree_method="hist",
        eval_metric="aucpr",
        random_state=settings.seed,
        **({"weight_col": weight_col} if weight_col else {}),
        verbose=False,  # no per-round metric lines in the job's output (the summary has them)
        **extra,
    )
    return classifier.fit(train)
