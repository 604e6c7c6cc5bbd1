"""Importance weights that carry login-labelled validation pairs over to the pairs we score.

Without a usable panel the only labels are logins, and login-labelled pairs are a skewed
sample of the candidate pairs: both cookies logged in, mostly one person's devices on one
site. A threshold chosen on them answers "how precise is the model on logged-in pairs", not
on the anonymous pairs it will link. Under covariate shift (the chance that a pair is one
person, given its features, is the same whether or not it is labelled) the precision on the
unlabelled population is the precision on the labelled pairs, each weighted by

    w(x) = p(x | unlabelled) / p(x | labelled),

the odds of a classifier that tells the two populations apart, trained with balanced
classes (``fit_domain_classifier``). The weights are normalised to a mean of 1 over the
validation pairs and clipped (``clip_and_normalise``); their effective sample size
``(sum w)^2 / sum w^2`` (``effective_sizes``), per class, says how many labelled pairs the
weighted precision really rests on. Few effective positives or negatives mean the labelled
pairs barely cover the population, and the caller falls back to the unweighted threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

REWEIGHTED = "login_reweighted"  # the decision's threshold_source
DOMAIN_COL = "_unlabelled"
ODDS_COL = "_odds"
WEIGHT_COL = "importance"
_EPS = 1e-6


@dataclass(frozen=True)
class EffectiveSizes:
    """Validation pairs and the effective sample size of their weights, per class."""

    positives: int
    negatives: int
    effective_positives: float
    effective_negatives: float
    clipped: int


def domain_training_set(
    labelled: DataFrame, unlabelled: DataFrame, columns: list[str]
) -> DataFrame:
    """``columns`` plus ``DOMAIN_COL`` (1: unlabelled) and a ``weight`` balancing the two."""
    both = labelled.select(*columns, F.lit(0).alias(DOMAIN_COL)).unionByName(
        unlabelled.select(*columns, F.lit(1).alias(DOMAIN_COL))
    )
    sizes = both.groupBy(DOMAIN_COL).count()
    total = F.sum("count").over(Window.partitionBy())
    balance = sizes.withColumn("weight", total / (2.0 * F.col("count"))).drop("count")
    return both.join(F.broadcast(balance), DOMAIN_COL)


def fit_domain_classifier(
    training_set: DataFrame,
    *,
    feature_columns: list[str],
    num_workers: int,
    seed: int,
    n_estimators: int = 60,
    max_depth: int = 3,
) -> bytes:
    """A small XGBoost classifier of ``DOMAIN_COL`` (balanced by ``weight``); UBJSON bytes.

    Shallow and regularised on purpose: its odds become weights, and an overfitted domain
    classifier gives a few pairs enormous weights and the rest none.
    """
    from xgboost.spark import SparkXGBClassifier

    classifier = SparkXGBClassifier(
        features_col=feature_columns,
        label_col=DOMAIN_COL,
        weight_col="weight",
        num_workers=num_workers,
        n_estimators=n_estimators,
        max_depth=max_depth,
        learning_rate=0.1,
        min_child_weight=5.0,
        reg_lambda=5.0,
        tree_method="hist",
        random_state=seed,
        verbose=False,
    )
    return bytes(classifier.fit(training_set).get_booster().save_raw("ubj"))


def odds(probability: str) -> Column:
    """p / (1 - p) of a probability column, kept finite."""
    p = F.least(F.greatest(F.col(probability), F.lit(_EPS)), F.lit(1 - _EPS))
    return p / (1 - p)


def clip_and_normalise(scored: DataFrame, *, clip: float) -> DataFrame:
    """``scored`` (with ``ODDS_COL``) plus ``WEIGHT_COL``: odds over their mean, at most
    ``clip``, then rescaled so the weights again average 1 (one small aggregate each)."""
    mean = scored.agg(F.avg(ODDS_COL)).first()
    assert mean is not None
    relative = F.col(ODDS_COL) / F.lit(float(mean[0] or 1.0))
    clipped = scored.withColumn(WEIGHT_COL, F.least(relative, F.lit(clip)))
    after = clipped.agg(F.avg(WEIGHT_COL)).first()
    assert after is not None
    return clipped.withColumn("_clipped", relative > F.lit(clip)).withColumn(
        WEIGHT_COL, F.col(WEIGHT_COL) / F.lit(float(after[0] or 1.0))
    )


def effective_sizes(weighted: DataFrame, *, label_col: str = "label") -> EffectiveSizes:
    """Kish's effective sample size of ``WEIGHT_COL`` for the positives and the negatives."""
    w = F.col(WEIGHT_COL)
    rows = {
        int(r[label_col]): r
        for r in weighted.groupBy(label_col)
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(w).alias("s"),
            F.sum(w * w).alias("s2"),
            F.count(F.when(F.col("_clipped"), 1)).alias("clipped"),
        )
        .collect()  # two rows
    }

    def ess(label: int) -> float:
        r = rows.get(label)
        return 0.0 if r is None or not r["s2"] else float(r["s"]) ** 2 / float(r["s2"])

    return EffectiveSizes(
        positives=int(rows[1]["n"]) if 1 in rows else 0,
        negatives=int(rows[0]["n"]) if 0 in rows else 0,
        effective_positives=round(ess(1), 1),
        effective_negatives=round(ess(0), 1),
        clipped=sum(int(r["clipped"]) for r in rows.values()),
    )
