"""Distributed scoring of pair features with a plain XGBoost booster.

The booster travels to the executors once, as a broadcast of its UBJSON bytes; each Arrow
batch is scored in a ``mapInPandas`` task, so there is no driver loop and no per-row Python.
Features are cast to float32 exactly as ``xgboost.spark`` does, which is what makes these
scores identical to the Spark model's and to plain ``xgboost.Booster`` on the same rows.
Training uses this same function to evaluate the champion and the challenger.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd
from pyspark.broadcast import Broadcast
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T


def broadcast_booster(spark: SparkSession, booster_raw: bytes) -> Broadcast[bytes]:
    """Ship a booster (``Booster.save_raw("ubj")``) to the executors once."""
    return spark.sparkContext.broadcast(bytes(booster_raw))


def score_pairs(
    pairs: DataFrame,
    *,
    booster: Broadcast[bytes],
    feature_columns: Sequence[str],
    keep: Sequence[str],
    score_col: str = "score",
) -> DataFrame:
    """Score every row of ``pairs`` with the broadcast booster.

    Args:
        pairs: rows with every column of ``feature_columns`` (numeric, non-null) and ``keep``.
        booster: the broadcast UBJSON bytes of an XGBoost binary classifier.
        feature_columns: the model's features, in the order it was trained with.
        keep: columns passed through to the output.
        score_col: name of the probability column added.

    Returns:
        ``keep`` plus ``score_col`` (DoubleType, the positive-class probability).
    """
    features = list(feature_columns)
    missing = [c for c in features if c not in pairs.columns]
    if missing:
        raise ValueError(f"pair features lack the model's columns {missing}")
    kept = pairs.select(*keep)
    out_schema = T.StructType([*kept.schema.fields, T.StructField(score_col, T.DoubleType())])
    keep_names = list(keep)

    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import numpy as np
        import xgboost as xgb

        model = xgb.Booster()
        model.load_model(bytearray(booster.value))
        model.set_param({"nthread": 1})  # one task per core already
        for batch in batches:
            matrix = xgb.DMatrix(batch[features].to_numpy(dtype=np.float32), feature_names=features)
            out = batch[keep_names].copy()
            out[score_col] = model.predict(matrix, validate_features=False).astype("float64")
            yield out

    # A feature that is also kept passes through as it is (and is cast when scored).
    cast = [F.col(c).cast("float") for c in features if c not in keep_names]
    selected = pairs.select(*keep, *cast)
    return selected.mapInPandas(predict, schema=out_schema)
