"""Cannot-link constraints: a ``different_people`` verdict's two cookies never share a component.

Runs after over-merge protection, on its labels. Only components holding both cookies of a
verdict in force are touched, and those are small (over-merge protection caps their size), so
each is re-solved on its own in a pandas UDF (``applyInPandas``, one group per component): the
component's surviving edges are added strongest first, as in Kruskal's maximum spanning forest,
and an edge whose two sides hold the two cookies of a verdict is left out (constrained
agglomeration; cf. Wagstaff et al., "Constrained K-means Clustering with Background Knowledge",
ICML 2001, which enforces cannot-links the same way). The parts are the trees of that forest:
every part stays connected by kept edges, no part holds both cookies of a verdict, and what
separates two sides is the weakest edge on the strongest path between them. Same-login edges
weigh more than any score, so scored edges are cut first; when two cookies share a login
directly, the verdict still wins and a login edge is cut.

The result is exact in one pass: no iteration, and every verdict of a component is honoured
at once. Edges left out are counted (``edges_cut``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

log = logging.getLogger(__name__)

_ROWS = "component long, kind string, u long, v long, w double"
_PARTS = "id long, part long"


@dataclass(frozen=True)
class CannotLinkResult:
    """Labels after honouring the verdicts, and what that took.

    Attributes:
        labels: ``id``, ``component``, ``overmerge_step`` of every vertex.
        pairs: verdicts in force whose two cookies are both in the graph.
        violated: of those, the ones that shared a component before (all now apart).
        components: components split.
        edges_cut: surviving edges of those components whose two ends ended apart.
    """

    labels: DataFrame
    pairs: int
    violated: int
    components: int
    edges_cut: int


def split_component(rows: pd.DataFrame) -> pd.DataFrame:
    """One component's parts: vertices (``kind`` v: ``u``), edges (e: ``u``, ``v``, ``w``)
    and cannot-links (c: ``u``, ``v``) in; ``id``, ``part`` (smallest id of the part) out."""
    kind = rows["kind"]
    vertices = [int(x) for x in rows.loc[kind == "v", "u"]]
    parent = {x: x for x in vertices}
    members = {x: [x] for x in vertices}
    forbidden: dict[int, set[int]] = {x: set() for x in vertices}
    for u, v in rows.loc[kind == "c", ["u", "v"]].itertuples(index=False):
        forbidden[int(u)].add(int(v))
        forbidden[int(v)].add(int(u))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edges = rows.loc[kind == "e", ["u", "v", "w"]].copy()
    edges["lo"] = edges[["u", "v"]].min(axis=1)
    edges["hi"] = edges[["u", "v"]].max(axis=1)
    edges = edges.sort_values(["w", "lo", "hi"], ascending=[False, True, True])
    for u, v in edges[["u", "v"]].itertuples(index=False):
        ru, rv = find(int(u)), find(int(v))
        if ru == rv or any(find(x) == rv for x in forbidden[ru]):
            continue
        if len(members[ru]) < len(members[rv]):
            ru, rv = rv, ru
        parent[rv] = ru
        members[ru] += members.pop(rv)
        forbidden[ru] |= forbidden.pop(rv)
    part = {x: min(group) for group in members.values() for x in group}
    return pd.DataFrame({"id": vertices, "part": [part[x] for x in vertices]})


def _retained_edges(
    labels: DataFrame,
    det_edges: DataFrame,
    prob_edges: DataFrame,
    *,
    threshold_step: float,
    det_step: int,
    det_weight: float,
) -> DataFrame:
    """``component``, ``u``, ``v``, ``w`` of every edge that holds its component together:
    both ends in it, and (scored edges) above the threshold its over-merge step settled on."""
    src = labels.select(
        F.col("id").alias("src"), F.col("component"), F.col("overmerge_step").alias("_step")
    )
    dst = labels.select(F.col("id").alias("dst"), F.col("component").alias("_cd"))
    prob = (
        prob_edges.join(src, "src")
        .join(dst, "dst")
        .where(
            (F.col("component") == F.col("_cd"))
            & (F.col("_step") < det_step)
            & (F.col("score") >= F.col("threshold") + F.col("_step") * F.lit(threshold_step))
        )
        .select(
            "component", F.col("src").alias("u"), F.col("dst").alias("v"), F.col("score").alias("w")
        )
    )
    det = (
        det_edges.join(src, "src")
        .join(dst, "dst")
        .where(F.col("component") == F.col("_cd"))
        .select(
            "component",
            F.col("src").alias("u"),
            F.col("dst").alias("v"),
            F.lit(det_weight).alias("w"),
        )
    )
    return prob.unionByName(det)


def honour_cannot_links(
    labels: DataFrame,
    cookies: DataFrame,
    det_edges: DataFrame,
    prob_edges: DataFrame,
    pairs: DataFrame,
    *,
    threshold_step: float,
    det_step: int,
    det_weight: float = 2.0,
) -> CannotLinkResult:
    """Split every component that holds both cookies of a ``different_people`` verdict.

    Args:
        labels: ``id``, ``component``, ``overmerge_step`` (over-merge protection's output).
        cookies: ``site_id``, ``cookie_id``, ``id`` of every cookie vertex.
        det_edges: ``src`` (cookie), ``dst`` (login vertex).
        prob_edges: ``src``, ``dst``, ``score``, ``threshold``.
        pairs: ``PAIR_KEYS`` of the verdicts in force (``feedback.cannot_links``): small.
        threshold_step: over-merge protection's threshold increase per step.
        det_step: the over-merge step meaning "deterministic links only".
        det_weight: weight of a same-login edge (above every score).

    Returns:
        ``CannotLinkResult``.
    """
    ids = cookies.select("site_id", "cookie_id", "id")
    found = pairs.join(
        ids.select(F.col("site_id").alias("site_id_l"), F.col("cookie_id").alias("cookie_id_l"),
                   F.col("id").alias("u")), ["site_id_l", "cookie_id_l"],
    ).join(
        ids.select(F.col("site_id").alias("site_id_r"), F.col("cookie_id").alias("cookie_id_r"),
                   F.col("id").alias("v")), ["site_id_r", "cookie_id_r"],
    )  # fmt: skip
    comp = labels.select("id", "component")
    found = (
        found.where(F.col("u") != F.col("v"))
        .join(comp.select(F.col("id").alias("u"), F.col("component").alias("cu")), "u")
        .join(comp.select(F.col("id").alias("v"), F.col("component").alias("cv")), "v")
        .select("u", "v", "cu", "cv")
        .localCheckpoint()
    )
    counts = found.agg(
        F.count(F.lit(1)).alias("pairs"),
        F.count(F.when(F.col("cu") == F.col("cv"), 1)).alias("violated"),
        F.countDistinct(F.when(F.col("cu") == F.col("cv"), F.col("cu"))).alias("components"),
    ).first()
    assert counts is not None
    n_pairs, n_violated, n_components = (
        int(counts[k]) for k in ("pairs", "violated", "components")
    )
    if n_violated == 0:
        return CannotLinkResult(labels, n_pairs, 0, 0, 0)

    violated = found.where(F.col("cu") == F.col("cv")).select(
        F.col("cu").alias("component"), "u", "v"
    )
    affected = F.broadcast(violated.select("component").distinct())
    inside = labels.join(affected, "component", "left_semi").localCheckpoint()
    edges = _retained_edges(
        inside,
        det_edges,
        prob_edges,
        threshold_step=threshold_step,
        det_step=det_step,
        det_weight=det_weight,
    ).localCheckpoint()
    rows = (
        inside.select("component", F.lit("v").alias("kind"), F.col("id").alias("u"),
                      F.lit(0).cast("long").alias("v"), F.lit(0.0).alias("w"))
        .unionByName(edges.select("component", F.lit("e").alias("kind"), "u", "v", "w"))
        .unionByName(violated.select("component", F.lit("c").alias("kind"), "u", "v",
                                     F.lit(0.0).alias("w")))
    )  # fmt: skip
    # No nulls in these columns: pandas would turn a long column with nulls into float64 and
    # round 64-bit vertex ids.
    parts = rows.groupBy("component").applyInPandas(split_component, _PARTS).localCheckpoint()
    split = inside.join(parts, "id").select(
        "id", F.col("part").alias("component"), "overmerge_step"
    )
    part_of = parts.select(F.col("id").alias("u"), F.col("part").alias("pu"))
    cut = (
        edges.join(part_of, "u")
        .join(part_of.select(F.col("u").alias("v"), F.col("pu").alias("pv")), "v")
        .where(F.col("pu") != F.col("pv"))
        .count()
    )
    merged = labels.join(affected, "component", "left_anti").unionByName(split)
    log.info(
        "feedback: %d of %d different_people pairs shared a component; %d components split, "
        "%d edges cut",
        n_violated,
        n_pairs,
        n_components,
        cut,
    )
    return CannotLinkResult(merged, n_pairs, n_violated, n_components, int(cut))
