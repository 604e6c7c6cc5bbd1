"""Why the model gave a pair its score: XGBoost's per-feature contributions (SHAP values).

``Booster.predict(..., pred_contribs=True)`` splits each pair's margin (log-odds) into one
additive contribution per feature plus the bias (the model's average margin); they sum to the
margin, whose logistic is the score. The pairs' features are rebuilt from the day's lake tables
exactly as the scoring stage built them (``build_pair_features`` over the day's candidates and
cookie features), for the few pairs asked about only, and scored again with the model version
that scored the day, so the recomputed score can be checked against the stored one.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from idgraph.core.lake import Lake
from spark_jobs.common.evidence import evidence_present
from spark_jobs.common.io import partition_exists, read_partition
from spark_jobs.common.schemas import PAIR_KEYS
from spark_jobs.pair_scoring.pair_features import build_pair_features

if TYPE_CHECKING:
    import pandas as pd
    import xgboost as xgb

Key = tuple[str, str]
Pair = tuple[Key, Key]  # (l, r) in the order of every pair table

SCORE_TOLERANCE = 1e-5
"""A recomputed score further than this from the stored one means the day's tables changed."""


def pair_feature_rows(
    spark: SparkSession, lake: Lake, day: dt.date, pairs: Sequence[Pair], feature_columns: list[str]
) -> pd.DataFrame:
    """``PAIR_KEYS`` and ``feature_columns`` of ``pairs`` (the day's candidates among them),
    built as the scoring stage builds them: only these pairs are joined to the features."""
    if not pairs or not partition_exists(spark, lake, "candidate_pairs", day):
        import pandas as pd

        return pd.DataFrame(columns=[*PAIR_KEYS, *feature_columns])
    wanted = F.broadcast(
        spark.createDataFrame(
            [(a[0], a[1], b[0], b[1]) for a, b in pairs],
            ", ".join(f"{k} string" for k in PAIR_KEYS),
        )
    )
    candidates = read_partition(spark, lake, "candidate_pairs", day).join(
        wanted, PAIR_KEYS, "left_semi"
    )
    candidates = candidates.select(*PAIR_KEYS, *evidence_present(candidates.columns))
    features = read_partition(spark, lake, "cookie_features", day)
    built = build_pair_features(candidates, features)
    return built.select(*PAIR_KEYS, *feature_columns).toPandas()


def contributions(
    booster: xgb.Booster, rows: pd.DataFrame, feature_columns: list[str], *, top: int
) -> dict[Pair, dict[str, Any]]:
    """Per pair of ``rows``: bias, margin, score and the ``top`` features by absolute
    contribution (with their values), the remaining features' sum as ``rest``."""
    import numpy as np
    import xgboost as xgb

    if rows.empty:
        return {}
    # float32 as the scorer casts (spark_jobs.pair_scoring.scoring), so the scores are equal.
    matrix = xgb.DMatrix(
        rows[feature_columns].to_numpy(dtype=np.float32), feature_names=feature_columns
    )
    contribs = booster.predict(matrix, pred_contribs=True, validate_features=False)
    out: dict[Pair, dict[str, Any]] = {}
    for i, row in enumerate(rows.itertuples(index=False)):
        values = contribs[i]
        margin = float(values.sum())
        order = sorted(range(len(feature_columns)), key=lambda j: -abs(float(values[j])))
        shown = order[:top]
        pair = ((row.site_id_l, row.cookie_id_l), (row.site_id_r, row.cookie_id_r))
        out[pair] = {
            "bias": float(values[-1]),
            "margin": margin,
            "score": 1.0 / (1.0 + math.exp(-margin)),
            "features": [
                {
                    "feature": feature_columns[j],
                    "value": float(getattr(row, feature_columns[j])),
                    "contribution": float(values[j]),
                }
                for j in shown
            ],
            "rest": float(sum(float(values[j]) for j in order[top:])),
            "rest_features": len(order) - len(shown),
        }
    return out
