"""How each cookie is attached to its component: ``link_type`` and ``confidence``.

- ``singleton``: the only cookie of its component (confidence 0);
- ``deterministic``: shares a (non-generic) login hash with another cookie (confidence 1);
- ``probabilistic``: attached by scored edges only; confidence is the best score among the
  edges that survived in its component (at the threshold over-merge protection settled on).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window


def _retained_scores(
    prob_edges: DataFrame, labels: DataFrame, *, threshold_step: float, det_step: int
) -> DataFrame:
    """``id``, ``best_score``: best surviving probabilistic edge score per cookie vertex."""
    left = labels.select(
        F.col("id").alias("src"), F.col("component").alias("_cl"), F.col("overmerge_step")
    )
    right = labels.select(F.col("id").alias("dst"), F.col("component").alias("_cr"))
    kept = (
        prob_edges.join(left, "src")
        .join(right, "dst")
        .where(
            (F.col("_cl") == F.col("_cr"))
            & (F.col("overmerge_step") < det_step)
            & (
                F.col("score")
                >= F.col("threshold") + F.col("overmerge_step") * F.lit(threshold_step)
            )
        )
    )
    return (
        kept.select(F.col("src").alias("id"), "score")
        .unionByName(kept.select(F.col("dst").alias("id"), "score"))
        .groupBy("id")
        .agg(F.max("score").alias("best_score"))
    )


def link_cookies(
    cookies: DataFrame,
    labels: DataFrame,
    det_edges: DataFrame,
    prob_edges: DataFrame,
    *,
    threshold_step: float,
    det_step: int,
) -> DataFrame:
    """Every cookie with its component, component size, link type and confidence.

    Args:
        cookies: ``site_id``, ``cookie_id``, ``id`` of every cookie vertex.
        labels: ``id``, ``component``, ``overmerge_step`` of every vertex.
        det_edges: ``src`` (cookie), ``dst`` (login vertex) deterministic edges.
        prob_edges: ``src``, ``dst``, ``score``, ``threshold``.
        threshold_step: over-merge protection's threshold increase per step.
        det_step: the over-merge step that means "deterministic links only".

    Returns:
        ``site_id``, ``cookie_id``, ``id``, ``component``, ``component_size``, ``link_type``,
        ``confidence``, ``overmerge_step``.
    """
    shared_logins = det_edges.groupBy("dst").agg(F.count(F.lit(1)).alias("n")).where(F.col("n") > 1)
    deterministic = (
        det_edges.join(shared_logins, "dst", "left_semi")
        .select(F.col("src").alias("id"))
        .distinct()
        .withColumn("_det", F.lit(True))
    )
    scores = _retained_scores(prob_edges, labels, threshold_step=threshold_step, det_step=det_step)
    size = F.count(F.lit(1)).over(Window.partitionBy("component"))
    linked = (
        cookies.select("site_id", "cookie_id", "id")
        .join(labels, "id")
        .withColumn("component_size", size)
        .join(deterministic, "id", "left_outer")
        .join(scores, "id", "left_outer")
    )
    link_type = (
        F.when(F.col("component_size") == 1, "singleton")
        .when(F.col("_det"), "deterministic")
        .otherwise("probabilistic")
    )
    confidence = (
        F.when(F.col("component_size") == 1, F.lit(0.0))
        .when(F.col("_det"), F.lit(1.0))
        .otherwise(F.coalesce(F.col("best_score"), F.lit(0.0)))
    )
    return linked.select(
        "site_id",
        "cookie_id",
        "id",
        "component",
        F.col("component_size").cast("long").alias("component_size"),
        link_type.alias("link_type"),
        confidence.cast("double").alias("confidence"),
        "overmerge_step",
    )
