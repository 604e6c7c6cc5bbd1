"""``health/dt=D``: one machine-readable row describing the day's graph, and its summary.

The aggregates here are small DataFrames (a histogram of component sizes, of scores, link-type
counts) that the job collects; ``health_row`` assembles them with the gate's outcome into the
one row of ``HEALTH``, and ``format_health`` turns a row into a one-screen summary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.graph.gate import GateOutcome

# Component-size buckets of the health row (upper bounds, inclusive; the last is open).
SIZE_BUCKETS: tuple[tuple[str, int], ...] = (
    ("1", 1),
    ("2", 2),
    ("3-4", 4),
    ("5-8", 8),
    ("9-16", 16),
    ("17-32", 32),
    ("33-64", 64),
    ("65-128", 128),
    ("129+", 2**62),
)

HEALTH = T.StructType(
    [
        T.StructField("computed_at", T.TimestampType(), False),
        T.StructField("cookies", T.LongType(), False),
        T.StructField("components", T.LongType(), False),
        T.StructField("singletons", T.LongType(), False),
        T.StructField("largest_component", T.LongType(), False),
        T.StructField("largest_components", T.ArrayType(T.LongType()), False),  # top 10 sizes
        T.StructField("size_buckets", T.MapType(T.StringType(), T.LongType()), False),
        T.StructField(
            "size_histogram",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("size", T.LongType()),
                        T.StructField("components", T.LongType()),
                    ]
                )
            ),
            False,
        ),
        T.StructField("deterministic_edges", T.LongType(), False),  # cookie -> login links
        T.StructField("probabilistic_edges", T.LongType(), False),  # pairs >= threshold
        T.StructField("cookies_deterministic", T.LongType(), False),
        T.StructField("cookies_probabilistic", T.LongType(), False),
        T.StructField("cookies_singleton", T.LongType(), False),
        T.StructField("generic_login_hashes", T.LongType(), False),
        T.StructField("generic_login_cookies", T.LongType(), False),
        T.StructField("overmerge_components", T.LongType(), False),
        T.StructField("overmerge_parts", T.LongType(), False),
        T.StructField("overmerge_deterministic_only", T.LongType(), False),
        # different_people verdicts in force with both cookies in the graph; of those, the
        # ones that shared a component and were split apart; components split; edges cut.
        T.StructField("feedback_pairs", T.LongType(), False),
        T.StructField("feedback_pairs_split", T.LongType(), False),
        T.StructField("feedback_components_split", T.LongType(), False),
        T.StructField("feedback_edges_cut", T.LongType(), False),
        T.StructField("scored_pairs", T.LongType(), False),
        T.StructField("scored_pairs_above_threshold", T.LongType(), False),
        # The day's clean visits (reconciliation/dt=D); 0 on a quiet day, null without a row.
        T.StructField("visits_written", T.LongType(), True),
        T.StructField(
            "score_histogram",
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("lo", T.DoubleType()),
                        T.StructField("hi", T.DoubleType()),
                        T.StructField("pairs", T.LongType()),
                    ]
                )
            ),
            False,
        ),
        T.StructField("churn", T.DoubleType(), True),  # null without a previous day
        T.StructField("returning_cookies", T.LongType(), False),
        T.StructField("changed_ids", T.LongType(), False),
        T.StructField("new_ids", T.LongType(), False),
        T.StructField("model_version", T.StringType(), True),
        T.StructField("deterministic_only", T.BooleanType(), False),
        T.StructField("cc_implementation", T.StringType(), False),
        T.StructField("cc_iterations", T.IntegerType(), False),
        T.StructField("vertex_id_collisions", T.LongType(), False),
        # Household level (spark_jobs/graph/households.py).
        T.StructField("households", T.LongType(), False),
        T.StructField("households_multi_person", T.LongType(), False),  # 2+ person components
        T.StructField("cookies_in_multi_person_households", T.LongType(), False),
        T.StructField("largest_household", T.LongType(), False),  # in cookies
        T.StructField("household_size_buckets", T.MapType(T.StringType(), T.LongType()), False),
        T.StructField("household_persons_buckets", T.MapType(T.StringType(), T.LongType()), False),
        T.StructField("household_networks", T.LongType(), False),  # residential, joining 2+
        T.StructField("household_networks_skipped", T.LongType(), False),  # over the cookie cap
        T.StructField("household_networks_skipped_cookies", T.LongType(), False),
        T.StructField("households_dissolved", T.LongType(), False),  # over the size cap
        T.StructField("household_churn", T.DoubleType(), True),  # null without households D-1
        T.StructField("new_household_ids", T.LongType(), False),
        T.StructField("degraded", T.BooleanType(), False),
        T.StructField("degraded_reasons", T.ArrayType(T.StringType()), False),
        T.StructField("gate_passed", T.BooleanType(), False),
        T.StructField("gate_failures", T.ArrayType(T.StringType()), False),
        T.StructField("gate_notes", T.ArrayType(T.StringType()), False),
        T.StructField("note", T.StringType(), False),
    ]
)


HOUSEHOLD_FIGURES: dict[str, Any] = {
    "households": 0,
    "households_multi_person": 0,
    "cookies_in_multi_person_households": 0,
    "largest_household": 0,
    "household_size_buckets": {},
    "household_persons_buckets": {},
    "household_networks": 0,
    "household_networks_skipped": 0,
    "household_networks_skipped_cookies": 0,
    "households_dissolved": 0,
    "household_churn": None,
    "new_household_ids": 0,
}
"""Household columns of ``HEALTH`` and their value for figures assembled before households
existed (``health_row`` fills them in)."""

PERSON_BUCKETS = ("1", "2", "3", "4", "5", "6+")
"""Buckets of ``household_persons_buckets``: person components per household."""


def household_figures(graph: DataFrame, result: Any, *, churn: float | None) -> dict[str, Any]:
    """The household columns of the health row from the day's graph (``household_id``,
    ``household_size``, ``household_persons``, ``household_inherited``) and the
    ``HouseholdResult`` that built it (small aggregates, collected)."""
    per_household = graph.groupBy("household_id").agg(
        F.first("household_size").alias("size"),
        F.first("household_persons").alias("persons"),
        F.first("household_inherited").alias("inherited"),
    )
    rows = (
        per_household.groupBy("size", "persons", "inherited")
        .agg(F.count(F.lit(1)).alias("n"))
        .collect()
    )
    sizes = size_figures([(r["size"], r["n"]) for r in rows])
    persons = dict.fromkeys(PERSON_BUCKETS, 0)
    for r in rows:
        persons[PERSON_BUCKETS[min(int(r["persons"]), 6) - 1]] += int(r["n"])
    multi = [r for r in rows if r["persons"] >= 2]
    return {
        "households": sizes["components"],
        "households_multi_person": sum(int(r["n"]) for r in multi),
        "cookies_in_multi_person_households": sum(int(r["n"]) * int(r["size"]) for r in multi),
        "largest_household": sizes["largest_component"],
        "household_size_buckets": sizes["size_buckets"],
        "household_persons_buckets": persons,
        "household_networks": result.networks,
        "household_networks_skipped": result.skipped_networks,
        "household_networks_skipped_cookies": result.skipped_cookies,
        "households_dissolved": result.dissolved,
        "household_churn": churn,
        "new_household_ids": sum(int(r["n"]) for r in rows if not r["inherited"]),
    }


FEEDBACK_FIGURES = (
    "feedback_pairs",
    "feedback_pairs_split",
    "feedback_components_split",
    "feedback_edges_cut",
)


def size_histogram(graph: DataFrame) -> DataFrame:
    """``size``, ``components``: how many components have each size (in cookies)."""
    return (
        graph.groupBy("unified_id")
        .agg(F.count(F.lit(1)).alias("size"))
        .groupBy("size")
        .agg(F.count(F.lit(1)).alias("components"))
    )


def score_histogram(scored_pairs: DataFrame, *, bins: int) -> DataFrame:
    """``bin``, ``pairs``: equal-width histogram of scores over [0, 1]."""
    index = F.least(F.floor(F.col("score") * bins), F.lit(bins - 1)).cast("int")
    return scored_pairs.groupBy(index.alias("bin")).agg(F.count(F.lit(1)).alias("pairs"))


def size_figures(histogram: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """Counts, buckets and top-10 sizes from the (size, components) histogram."""
    hist = sorted((int(s), int(n)) for s, n in histogram)
    buckets = {name: 0 for name, _ in SIZE_BUCKETS}
    for size, n in hist:
        name = next(name for name, upper in SIZE_BUCKETS if size <= upper)
        buckets[name] += n
    top: list[int] = []
    for size, n in reversed(hist):
        top.extend([size] * min(n, 10 - len(top)))
        if len(top) >= 10:
            break
    return {
        "cookies": sum(s * n for s, n in hist),
        "components": sum(n for _, n in hist),
        "singletons": sum(n for s, n in hist if s == 1),
        "largest_component": hist[-1][0] if hist else 0,
        "largest_components": top,
        "size_buckets": buckets,
        "size_histogram": [{"size": s, "components": n} for s, n in hist],
    }


def score_figures(bins_counts: Sequence[tuple[int, int]], *, bins: int) -> list[dict[str, Any]]:
    """Every bin of the score histogram, empty ones included."""
    counts = {int(b): int(n) for b, n in bins_counts}
    return [
        {"lo": round(i / bins, 6), "hi": round((i + 1) / bins, 6), "pairs": counts.get(i, 0)}
        for i in range(bins)
    ]


def degraded_reasons(
    *,
    deterministic_only: bool,
    model_evidence: str | None,
    probabilistic_edges: int,
    live_day: dt.date | None,
    live_probabilistic_edges: int | None,
    max_drop: float,
) -> list[str]:
    """Why the day's graph is worse than the product promises (empty: it is not degraded).

    Args:
        deterministic_only: the day was built without scored pairs (no model scored it).
        model_evidence: what shows that a model existed or a training was tried before this
            day (None on a lake that never had either: a new lake is not degraded).
        probabilistic_edges: the day's scored edges at or above the threshold.
        live_day: the day of the live graph (the latest earlier day that was not degraded).
        live_probabilistic_edges: that graph's probabilistic edges.
        max_drop: the largest tolerated fall, as a share of the live graph's edges.
    """
    reasons = []
    if deterministic_only and model_evidence:
        reasons.append(
            f"scored without a model although {model_evidence}: logins-only graph "
            "(restore the registry or retrain: idgraph train --as-of the day before)"
        )
    if live_probabilistic_edges and (
        probabilistic_edges < live_probabilistic_edges * (1.0 - max_drop)
    ):
        fall = 1.0 - probabilistic_edges / live_probabilistic_edges
        reasons.append(
            f"probabilistic edges fell {fall:.0%}: {probabilistic_edges:,} against "
            f"{live_probabilistic_edges:,} in the live graph of {live_day}, more than "
            f"{max_drop:.0%}"
        )
    return reasons


def health_row(figures: Mapping[str, Any], gate: GateOutcome) -> dict[str, Any]:
    """The health row: ``figures`` (every non-gate column of ``HEALTH``) plus the gate."""
    row = dict(figures)
    row.update(
        gate_passed=gate.passed,
        gate_failures=list(gate.failures),
        gate_notes=list(gate.notes),
    )
    row.setdefault("computed_at", dt.datetime.now(dt.UTC).replace(tzinfo=None))
    for name in FEEDBACK_FIGURES:  # figures assembled before feedback existed: none honoured
        row.setdefault(name, 0)
    for name, empty in HOUSEHOLD_FIGURES.items():  # or before households existed
        row.setdefault(name, empty)
    row.setdefault("visits_written", None)
    missing = [f.name for f in HEALTH.fields if f.name not in row]
    if missing:
        raise ValueError(f"health row lacks {missing}")
    return {f.name: row[f.name] for f in HEALTH.fields}


def health_frame(spark: SparkSession, row: Mapping[str, Any]) -> DataFrame:
    """The one-row DataFrame of ``HEALTH`` to write as ``health/dt=D``."""
    return spark.createDataFrame([tuple(row[f.name] for f in HEALTH.fields)], HEALTH)


def format_health(row: Mapping[str, Any]) -> str:
    """A one-screen, plain-text summary of a health row (for logs and the CLI)."""
    churn = row.get("churn")
    lines = [
        *(
            [f"DEGRADED: {'; '.join(row.get('degraded_reasons') or [])}"]
            if row.get("degraded")
            else []
        ),
        f"gate: {'PASSED' if row['gate_passed'] else 'FAILED'}",
        *(f"  x {failure}" for failure in row.get("gate_failures") or []),
        *(f"  - {note}" for note in row.get("gate_notes") or []),
        f"cookies {row['cookies']:,} in {row['components']:,} components "
        f"({row['singletons']:,} singletons); largest {row['largest_component']:,}",
        "largest sizes: " + ", ".join(str(s) for s in row.get("largest_components") or []),
        "size buckets: "
        + ", ".join(f"{k}:{v:,}" for k, v in (row.get("size_buckets") or {}).items() if v),
        f"links: {row['deterministic_edges']:,} deterministic, "
        f"{row['probabilistic_edges']:,} probabilistic; cookies "
        f"{row['cookies_deterministic']:,} det / {row['cookies_probabilistic']:,} prob / "
        f"{row['cookies_singleton']:,} single",
        f"generic login hashes excluded: {row['generic_login_hashes']:,} "
        f"({row['generic_login_cookies']:,} cookies)",
        f"over-merge: {row['overmerge_components']:,} components split into "
        f"{row['overmerge_parts']:,} parts, {row['overmerge_deterministic_only']:,} "
        "deterministic-only",
        f"feedback: {row.get('feedback_pairs') or 0:,} different_people pairs in the graph, "
        f"{row.get('feedback_pairs_split') or 0:,} split apart "
        f"({row.get('feedback_components_split') or 0:,} components, "
        f"{row.get('feedback_edges_cut') or 0:,} edges cut)",
        "visits today: "
        + ("n/a" if row.get("visits_written") is None else f"{row['visits_written']:,}"),
        f"scored pairs: {row['scored_pairs']:,} ({row['scored_pairs_above_threshold']:,} "
        f"above threshold), model {row.get('model_version') or 'none'}"
        + (" - DETERMINISTIC LINKS ONLY" if row["deterministic_only"] else ""),
        "ID churn: "
        + ("n/a (no previous day)" if churn is None else f"{churn:.2%}")
        + f" of {row['returning_cookies']:,} returning cookies; {row['new_ids']:,} new IDs",
        f"connected components: {row['cc_implementation']}, {row['cc_iterations']} rounds",
        f"households: {row.get('households') or 0:,} "
        f"({row.get('households_multi_person') or 0:,} of 2+ persons holding "
        f"{row.get('cookies_in_multi_person_households') or 0:,} cookies); largest "
        f"{row.get('largest_household') or 0:,}; {row.get('household_networks') or 0:,} home "
        f"networks, {row.get('household_networks_skipped') or 0:,} busy ones skipped, "
        f"{row.get('households_dissolved') or 0:,} dissolved; churn "
        + ("n/a" if row.get("household_churn") is None else f"{row['household_churn']:.2%}"),
    ]
    if row.get("note"):
        lines.append(f"note: {row['note']}")
    return "\n".join(lines)
