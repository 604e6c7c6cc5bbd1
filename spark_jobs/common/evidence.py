"""Session evidence columns of ``candidate_pairs`` and the rule read from them.

Computed by ``spark_jobs.pair_scoring.session_evidence``; read by pair features, training,
the graph (session-rule edges) and the evaluation. Shared here so that no stage imports
another.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.common.schemas import PAIR_KEYS

SESSION_KEY = "session"
"""The ``blocking_keys`` entry of a candidate pair that session evidence produced."""

HOP_GAPS_SECONDS = (30, 120, 300)
"""The gaps at which hops are counted (``hops_30s``, ``hops_120s``, ``hops_300s``)."""

EVIDENCE_COLUMNS: tuple[str, ...] = (
    "hops_30s",
    "hops_120s",
    "hops_300s",
    "quiet_hops_300s",
    "hop_days",
    "hop_min_gap_s",
    "quiet_codays",
)
"""Per-pair window evidence carried by ``candidate_pairs`` (all LONG, never null; a pair without
hops has ``hop_min_gap_s`` = ``NO_HOP_GAP``)."""

NO_HOP_GAP = 86_400
"""``hop_min_gap_s`` of a pair that never hopped (a day: far beyond any hop)."""

RANK_COLUMNS: tuple[str, ...] = ("evidence_rank", "evidence_share")
"""Where the pair stands among its cookies' candidates (``candidates._with_ranks``):
``evidence_rank`` (LONG) is the better of its two ranks by blocking weight (1: the strongest
candidate of one of its cookies; 0: unknown), ``evidence_share`` (DOUBLE) the larger of its
shares of a cookie's total blocking weight (1.0: a cookie's only candidate)."""


def with_evidence(pairs: DataFrame) -> DataFrame:
    """``pairs`` with every ``EVIDENCE_COLUMNS`` and ``RANK_COLUMNS`` column: pairs from a lake
    written before they existed get "no evidence" (0, ``NO_HOP_GAP`` for the gap)."""
    for name in EVIDENCE_COLUMNS:
        default = NO_HOP_GAP if name == "hop_min_gap_s" else 0
        if name not in pairs.columns:
            pairs = pairs.withColumn(name, F.lit(default).cast("long"))
        else:
            pairs = pairs.withColumn(name, F.coalesce(F.col(name), F.lit(default)).cast("long"))
    for name, kind in zip(RANK_COLUMNS, ("long", "double"), strict=True):
        value = F.col(name) if name in pairs.columns else F.lit(None)
        pairs = pairs.withColumn(name, F.coalesce(value.cast(kind), F.lit(0).cast(kind)))
    return pairs


def evidence_present(columns: Sequence[str]) -> list[str]:
    """The evidence and rank columns among ``columns`` (in their declared order)."""
    return [c for c in (*EVIDENCE_COLUMNS, *RANK_COLUMNS) if c in columns]


def session_rule(*, min_quiet_hops: int = 1, min_codays: int = 3) -> Column:
    """The no-model rule over evidence columns: a hop between two sites on a quiet IP-day, or
    (unless ``min_codays`` is 0) two devices co-present on a quiet IP on ``min_codays`` or more
    days."""
    cross_site = F.col("site_id_l") != F.col("site_id_r")
    rule = cross_site & (F.col("quiet_hops_300s") >= min_quiet_hops)
    if min_codays > 0:
        rule = rule | (F.col("quiet_codays") >= min_codays)
    return rule


def session_rule_edges(
    evidence: DataFrame, *, min_quiet_hops: int = 1, min_codays: int = 3
) -> DataFrame:
    """The pairs of ``evidence`` that ``session_rule`` links: ``PAIR_KEYS`` only."""
    rule = session_rule(min_quiet_hops=min_quiet_hops, min_codays=min_codays)
    return evidence.where(rule).select(*PAIR_KEYS)
