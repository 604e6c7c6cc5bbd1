"""Over-merge protection: no component larger than the cap, or joining two logins, is one person.

A component holding two (non-generic) login hashes joins two people the deterministic links
know apart: a scored edge chain through anonymous cookies merged them. It is split like an
oversized one, until every part holds at most one login hash.

Inside every oversized component the champion's threshold is raised step by step
(``threshold + k * step`` for k = 1..K); a part keeps the first step at which it fits under the
cap. Parts that never fit keep their deterministic links only (step K + 1), which always fit
because a non-generic login hash carries at most ``generic_login_max_cookies`` cookies.

All steps are solved in one connected-components run: each vertex of an oversized component
is copied once per step (id ``xxhash64(id, k)``; the copies of a few oversized components are
far too few for a collision to be plausible), with the edges that survive that step's
threshold. Parts are nested (a higher threshold only removes edges), so "the smallest k at
which my part fits" is the same for every vertex of a part and the choice is consistent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.graph.connected_components import connected_components

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OvermergeResult:
    """Labels after protection and what it did.

    Attributes:
        labels: ``id``, ``component``, ``overmerge_step`` (0: untouched; 1..K: threshold raised
            K steps; K + 1: deterministic links only).
        oversized: components above the cap before protection.
        parts: components they were split into (cookie-holding parts).
        deterministic_only: oversized components where some part fell back to deterministic
            links only.
    """

    labels: DataFrame
    oversized: int
    parts: int
    deterministic_only: int


def _step_edges(
    det_edges: DataFrame,
    prob_edges: DataFrame,
    inside: DataFrame,
    steps: DataFrame,
    *,
    threshold_step: float,
    det_step: int,
) -> DataFrame:
    members = inside.select(F.col("id").alias("src"))
    det = det_edges.join(members, "src", "left_semi").select("src", "dst").crossJoin(steps)
    prob = (
        prob_edges.join(members, "src", "left_semi")
        .crossJoin(steps)
        .where(
            (F.col("step") < det_step)
            & (F.col("score") >= F.col("threshold") + F.col("step") * F.lit(threshold_step))
        )
        .select("src", "dst", "step")
    )
    return det.unionByName(prob).select(
        F.xxhash64("src", "step").alias("src"), F.xxhash64("dst", "step").alias("dst")
    )


def protect_overmerge(
    labels: DataFrame,
    cookie_ids: DataFrame,
    det_edges: DataFrame,
    prob_edges: DataFrame,
    *,
    max_size: int,
    threshold_step: float,
    max_steps: int,
    cc_options: dict[str, Any],
    split_multi_login: bool = True,
) -> OvermergeResult:
    """Split every component with more than ``max_size`` cookies by raising the threshold.

    With ``split_multi_login``, components with more than one login-hash vertex too.

    Args:
        labels: ``id``, ``component`` of every vertex.
        cookie_ids: ``id`` of every cookie vertex.
        det_edges: ``src``, ``dst`` deterministic edges.
        prob_edges: ``src``, ``dst``, ``score``, ``threshold`` probabilistic edges.
        max_size: the cap, in cookies.
        threshold_step: threshold increase per step.
        max_steps: raised thresholds tried before the deterministic-only fallback.
        cc_options: keyword arguments for ``connected_components``.
        split_multi_login: also split components holding two or more login hashes.

    Returns:
        ``OvermergeResult``.
    """
    spark = labels.sparkSession
    kinds = labels.join(cookie_ids.select("id", F.lit(1).alias("_cookie")), "id", "left_outer")
    sizes = kinds.groupBy("component").agg(
        F.count("_cookie").alias("n_cookies"),
        F.count(F.when(F.col("_cookie").isNull(), 1)).alias("n_logins"),  # login vertices
    )
    too_big = F.col("n_cookies") > max_size
    if split_multi_login:
        too_big = too_big | (F.col("n_logins") > 1)
    oversized = sizes.where(too_big).select("component").localCheckpoint()
    n_oversized = oversized.count()
    if n_oversized == 0:
        return OvermergeResult(labels.withColumn("overmerge_step", F.lit(0)), 0, 0, 0)
    log.info("over-merge: %d components above %d cookies or with 2+ logins", n_oversized, max_size)

    det_step = max_steps + 1
    steps = F.broadcast(spark.range(1, det_step + 1).select(F.col("id").cast("int").alias("step")))
    inside = (
        labels.join(F.broadcast(oversized), "component", "left_semi")
        .join(cookie_ids.select("id", F.lit(1).alias("is_cookie")), "id", "left_outer")
        .select("id", "component", F.coalesce("is_cookie", F.lit(0)).alias("is_cookie"))
        .localCheckpoint()
    )
    copies = inside.crossJoin(steps).withColumn("copy_id", F.xxhash64("id", "step"))
    result = connected_components(
        _step_edges(
            det_edges,
            prob_edges,
            inside,
            steps,
            threshold_step=threshold_step,
            det_step=det_step,
        ),
        copies.select(F.col("copy_id").alias("id")),
        **cc_options,
    )
    parts = copies.join(
        result.components.select(F.col("id").alias("copy_id"), F.col("component").alias("part")),
        "copy_id",
    )
    part_sizes = parts.groupBy("step", "part").agg(
        F.sum("is_cookie").alias("part_cookies"),
        F.sum(1 - F.col("is_cookie")).alias("part_logins"),
    )
    fits = F.col("part_cookies") <= max_size
    if split_multi_login:
        fits = fits & (F.col("part_logins") <= 1)
    fitting = parts.join(part_sizes, ["step", "part"]).where(fits | (F.col("step") == det_step))
    chosen = fitting.groupBy("id").agg(F.min("step").alias("step"))
    final = parts.join(chosen, ["id", "step"]).select(
        "id", "component", "step", "part", "is_cookie"
    )
    # The part's label is its smallest original vertex id, like every other component.
    part_label = final.groupBy("step", "part").agg(F.min("id").alias("new_component"))
    split = (
        final.join(part_label, ["step", "part"])
        .select(
            "id",
            F.col("new_component").alias("component"),
            F.col("step").alias("overmerge_step"),
            F.col("component").alias("_old"),
            "is_cookie",
        )
        .localCheckpoint()
    )
    counts = split.agg(
        F.countDistinct(F.when(F.col("is_cookie") == 1, F.col("component"))).alias("parts"),
        F.countDistinct(F.when(F.col("overmerge_step") == det_step, F.col("_old"))).alias("det"),
    ).first()
    assert counts is not None
    untouched = labels.join(F.broadcast(oversized), "component", "left_anti").withColumn(
        "overmerge_step", F.lit(0)
    )
    merged = untouched.unionByName(split.select("id", "component", "overmerge_step"))
    log.info(
        "over-merge: %d components split into %d parts, %d fell back to deterministic links",
        n_oversized,
        counts["parts"],
        counts["det"],
    )
    return OvermergeResult(merged, n_oversized, int(counts["parts"]), int(counts["det"]))
