"""Stage ``graph``: cookies and scored pairs of day D -> ``identity_graph/dt=D`` + ``health/dt=D``.

Reads ``cookie_features/dt=D`` (opt-outs dropped), ``scored_pairs/dt=D`` (missing or empty when
there is no champion model yet: deterministic links only, said in the note) and
``identity_graph/dt=D-1`` for stable IDs, and the ``different_people`` verdicts in force
(``feedback`` drained by D), which it honours after over-merge protection. Everything
between reading and writing is a pure DataFrame function of this package; the few figures the
health row needs are collected from small aggregates.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings, GraphSettings
from idgraph.core.stage import StageFailed, StageResult
from spark_jobs.common.evidence import session_rule
from spark_jobs.common.feedback import cannot_links
from spark_jobs.common.io import (
    list_partitions,
    partition_exists,
    path_exists,
    read_partition,
    read_range,
    write_partition,
)
from spark_jobs.common.optouts import drop_opted_out, read_optouts
from spark_jobs.common.schemas import IDENTITY_GRAPH, PAIR_KEYS, conform
from spark_jobs.graph.cannot_link import honour_cannot_links
from spark_jobs.graph.connected_components import connected_components
from spark_jobs.graph.edges import (
    cookie_vertices,
    deterministic_edges,
    generic_logins,
    probabilistic_edges,
    salted_ids,
    vertex_keys,
)
from spark_jobs.graph.gate import evaluate_gate
from spark_jobs.graph.health import (
    degraded_reasons,
    health_frame,
    health_row,
    household_figures,
    score_figures,
    score_histogram,
    size_figures,
    size_histogram,
)
from spark_jobs.graph.households import build_households
from spark_jobs.graph.links import link_cookies
from spark_jobs.graph.metrics import emit_health_metrics
from spark_jobs.graph.overmerge import protect_overmerge
from spark_jobs.graph.stable_ids import assign_household_ids, assign_unified_ids, churn

log = logging.getLogger(__name__)

STAGE = "graph"
_FEATURE_COLUMNS = ("site_id", "cookie_id", "login_hash", "device_type", "os_family", "ua_family")


def _scored_pairs(
    spark: SparkSession, lake: Lake, day: dt.date
) -> tuple[DataFrame | None, int, str | None, str]:
    """(pairs or None, volume, model version, note) for the day."""
    if not partition_exists(spark, lake, "scored_pairs", day):
        return None, 0, None, f"no scored_pairs/dt={day}: deterministic links only"
    pairs = read_partition(spark, lake, "scored_pairs", day)
    summary = pairs.agg(F.count(F.lit(1)).alias("n"), F.max("model_version").alias("v")).first()
    assert summary is not None
    if summary["n"] == 0:
        return (
            None,
            0,
            None,
            "scored pairs are empty (no champion model yet): deterministic links only",
        )
    return pairs, int(summary["n"]), summary["v"], ""


def _session_rule_pairs(
    spark: SparkSession, lake: Lake, day: dt.date, gs: GraphSettings
) -> DataFrame | None:
    """The session rule's candidate pairs as scored-pair rows (threshold: the rule's
    confidence; score: the strong confidence for repeated hops), or None when the rule is off
    or the day's candidates carry no evidence. Only pairs among the best-evidenced candidates
    of one of their cookies (``graph.session_rule_max_evidence_rank``) qualify."""
    if not gs.session_rule_edges or not partition_exists(spark, lake, "candidate_pairs", day):
        return None
    candidates = read_partition(spark, lake, "candidate_pairs", day)
    if "quiet_hops_300s" not in candidates.columns:  # written before session evidence
        return None
    base = F.lit(float(gs.session_rule_confidence))
    strong = (F.col("hop_days") >= 2) | (F.col("quiet_hops_300s") >= 2)
    score = F.when(strong, F.lit(float(gs.session_rule_strong_confidence))).otherwise(base)
    rule = session_rule(min_codays=gs.session_rule_min_codays)
    if gs.session_rule_max_evidence_rank and "evidence_rank" in candidates.columns:
        rule = rule & (F.col("evidence_rank") <= gs.session_rule_max_evidence_rank)
    return candidates.where(rule).select(
        *PAIR_KEYS, F.greatest(score, base).alias("score"), base.alias("threshold")
    )


HEALTH_LOOKBACK_DAYS = 90  # earlier health rows read for the gate and the degraded checks


def _earlier_health(spark: SparkSession, lake: Lake, day: dt.date) -> list[dict[str, Any]]:
    """The health rows of the ``HEALTH_LOOKBACK_DAYS`` days before ``day`` (one row each, so a
    small collect), oldest first, as dicts with ``dt``; rows written before a column existed
    have it as None."""
    wanted = [
        d
        for d in list_partitions(spark, lake, "health")
        if day - dt.timedelta(HEALTH_LOOKBACK_DAYS) <= d < day
    ]
    if not wanted:
        return []
    rows = (
        spark.read.option("basePath", lake.table("health"))
        .option("mergeSchema", "true")
        .parquet(*(lake.partition("health", d) for d in wanted))
        .withColumn("dt", F.col("dt").cast("date"))
    )
    if "degraded" not in rows.columns:
        rows = rows.withColumn("degraded", F.lit(None).cast("boolean"))
    picked = rows.select(
        "dt", "scored_pairs", "probabilistic_edges", "model_version", "gate_passed", "degraded"
    )
    return sorted((r.asDict() for r in picked.collect()), key=lambda r: r["dt"])


def _visit_volumes(
    spark: SparkSession, lake: Lake, day: dt.date, days: int
) -> tuple[int | None, list[int]]:
    """``visits_written`` of the day's reconciliation (None without one) and of the ``days``
    days before it that have one (a few one-row partitions)."""
    start = day - dt.timedelta(days=days)
    try:
        rows = read_range(spark, lake, "reconciliation", start, day).select("dt", "visits_written")
    except FileNotFoundError:
        return None, []
    by_day = {r["dt"]: int(r["visits_written"]) for r in rows.collect()}
    return by_day.get(day), [v for d, v in sorted(by_day.items()) if d < day]


def _history_volumes(earlier: Sequence[dict[str, Any]], day: dt.date, days: int) -> list[int]:
    """``scored_pairs`` of the health rows of the ``days`` days before ``day``."""
    return [int(r["scored_pairs"]) for r in earlier if day - dt.timedelta(days) <= r["dt"] < day]


def _live(earlier: Sequence[dict[str, Any]]) -> tuple[dt.date | None, int | None]:
    """(day, probabilistic edges) of the graph to compare with: the latest earlier day that was
    not degraded (the live graph when every healthy day is published; a degraded day that was
    forced out does not become the new normal)."""
    passed = [r for r in earlier if not r["degraded"]]
    if not passed:
        return None, None
    return passed[-1]["dt"], int(passed[-1]["probabilistic_edges"])


def _model_evidence(
    spark: SparkSession, lake: Lake, day: dt.date, earlier: Sequence[dict[str, Any]]
) -> str | None:
    """What shows that a model existed or a training was tried before ``day`` (None: nothing;
    a brand-new lake). Lake records only, so a lost model registry cannot hide it."""
    scored = [r for r in earlier if r["model_version"]]
    if scored:
        last = scored[-1]
        return f"{last['dt']} was scored with model v{last['model_version']}"
    decisions = lake.path("training", "decisions")
    if not path_exists(spark, decisions):
        return None
    as_of = F.to_date(F.get_json_object("value", "$.as_of"))
    tried = (
        spark.read.text(decisions)
        .where(as_of < F.lit(day))
        .agg(F.count(F.lit(1)).alias("n"), F.max(as_of).alias("last"))
        .first()
    )
    if tried is None or not tried["n"]:
        return None
    return f"{tried['n']} training run(s) were recorded, the last as of {tried['last']}"


def _yesterday(spark: SparkSession, lake: Lake, day: dt.date) -> DataFrame | None:
    """Yesterday's ``identity_graph`` (keys, ``unified_id`` and, when it has one,
    ``household_id``), or None."""
    previous = day - dt.timedelta(days=1)
    if not partition_exists(spark, lake, "identity_graph", previous):
        return None
    graph = read_partition(spark, lake, "identity_graph", previous)
    extra = ["household_id"] if "household_id" in graph.columns else []
    return graph.select("site_id", "cookie_id", "unified_id", *extra)


def _same_component(det: DataFrame, labels: DataFrame) -> DataFrame:
    """The deterministic edges whose cookie and login vertex share a component."""
    src = labels.select(F.col("id").alias("src"), F.col("component").alias("_cs"))
    dst = labels.select(F.col("id").alias("dst"), F.col("component").alias("_cd"))
    return (
        det.join(src, "src")
        .join(dst, "dst")
        .where(F.col("_cs") == F.col("_cd"))
        .select(*det.columns)
    )


def _pairs_sharing_an_id(graph: DataFrame, pairs: DataFrame) -> int:
    """How many of ``pairs`` (``PAIR_KEYS``) have one unified ID in ``graph``: must be 0."""
    ids = graph.select("site_id", "cookie_id", "unified_id")
    joined = pairs.join(
        ids.select(F.col("site_id").alias("site_id_l"), F.col("cookie_id").alias("cookie_id_l"),
                   F.col("unified_id").alias("_ul")), ["site_id_l", "cookie_id_l"],
    ).join(
        ids.select(F.col("site_id").alias("site_id_r"), F.col("cookie_id").alias("cookie_id_r"),
                   F.col("unified_id").alias("_ur")), ["site_id_r", "cookie_id_r"],
    )  # fmt: skip
    return joined.where(F.col("_ul") == F.col("_ur")).count()


def run_graph(spark: SparkSession, settings: AppSettings, day: dt.date) -> StageResult:
    """Build the day's identity graph and health row, and decide the publish gate.

    Args:
        spark: the session.
        settings: app settings (``graph`` concern for every knob).
        day: the day D.

    Returns:
        ``StageResult`` with cookies, components, largest, churn and the gate outcome.

    Raises:
        StageFailed: when ``cookie_features/dt=D`` is missing.
    """
    gs = settings.graph
    lake = Lake(settings.lake.root)
    if not partition_exists(spark, lake, "cookie_features", day):
        raise StageFailed(STAGE, f"cookie_features/dt={day} is missing: run the features stage")
    raw_features = read_partition(spark, lake, "cookie_features", day)
    networks = ["home_networks"] if "home_networks" in raw_features.columns else []
    features = drop_opted_out(
        raw_features.select(*_FEATURE_COLUMNS, *networks),
        read_optouts(spark, lake),
        site_col="site_id",
        cookie_col="cookie_id",
        login_col="login_hash",
    ).localCheckpoint()
    pairs, volume, model_version, note = _scored_pairs(spark, lake, day)

    keys = vertex_keys(features)
    collisions = keys.groupBy("id").count().where(F.col("count") > 1).count()
    salts = salted_ids(keys).localCheckpoint() if collisions else None
    if collisions:
        log.warning("%d vertex ids collide: colliding keys re-hashed with a salt", collisions)

    generic = generic_logins(
        features, max_cookies=gs.generic_login_max_cookies, max_devices=gs.generic_login_max_devices
    ).localCheckpoint()
    generic_counts = generic.agg(
        F.count(F.lit(1)).alias("hashes"), F.coalesce(F.sum("n_cookies"), F.lit(0)).alias("cookies")
    ).first()
    assert generic_counts is not None

    cookies = cookie_vertices(features, salts).localCheckpoint()
    det = deterministic_edges(features, generic, salts).localCheckpoint()
    model_prob = (
        probabilistic_edges(pairs, features, salts, generic)
        if pairs is not None
        else spark.createDataFrame([], "src long, dst long, score double, threshold double")
    ).localCheckpoint()
    n_model_prob = model_prob.count()
    rule_pairs = _session_rule_pairs(spark, lake, day, gs)
    prob = model_prob
    if rule_pairs is not None:
        rule_prob = probabilistic_edges(rule_pairs, features, salts, generic)
        # A pair both sources link keeps the model's edge (its score, its threshold).
        prob = model_prob.unionByName(
            rule_prob.join(model_prob.select("src", "dst"), ["src", "dst"], "left_anti")
        ).localCheckpoint()
    n_det, n_prob = det.count(), prob.count()
    n_rule = n_prob - n_model_prob
    if rule_pairs is not None:
        log.info("graph %s: %d session-rule edges beside %d model edges", day, n_rule, n_model_prob)
        if n_rule and pairs is None:
            note = note.replace("deterministic links only", "deterministic and session-rule links")

    cc_options: dict[str, Any] = {
        "implementation": gs.cc_implementation,
        "partitions": gs.cc_partitions,
        "prune_every": gs.cc_prune_every,
        "max_iterations": gs.cc_max_iterations,
    }
    vertices = cookies.select("id").unionByName(det.select(F.col("dst").alias("id")))
    components = connected_components(
        det.select("src", "dst").unionByName(prob.select("src", "dst")), vertices, **cc_options
    )
    overmerge = protect_overmerge(
        components.components.localCheckpoint(),
        cookies,
        det,
        prob,
        max_size=gs.max_component_size,
        threshold_step=gs.overmerge_threshold_step,
        max_steps=gs.overmerge_max_steps,
        cc_options=cc_options,
        split_multi_login=gs.split_multi_login,
    )
    in_force = cannot_links(spark, lake, day).localCheckpoint()
    honoured = honour_cannot_links(
        overmerge.labels,
        cookies,
        det,
        prob,
        in_force,
        threshold_step=gs.overmerge_threshold_step,
        det_step=gs.overmerge_max_steps + 1,
        det_weight=gs.feedback_cut_weight_deterministic,
    )
    labels, det_kept = honoured.labels, det
    if honoured.violated:
        labels = labels.localCheckpoint()
        det_kept = _same_component(det, labels)  # a cut login edge no longer makes "deterministic"
    linked = link_cookies(
        cookies,
        labels,
        det_kept,
        prob,
        threshold_step=gs.overmerge_threshold_step,
        det_step=gs.overmerge_max_steps + 1,
    )
    yesterday = _yesterday(spark, lake, day)
    persons = assign_unified_ids(
        linked, yesterday, day=day, rounds=gs.stable_id_match_rounds
    ).localCheckpoint()
    households = build_households(
        persons.select("site_id", "cookie_id", F.col("component").alias("person")),
        features if gs.households else features.drop(*networks),
        min_days=gs.household_min_days,
        min_weekend_share=gs.household_min_weekend_share,
        max_network_cookies=gs.household_max_network_cookies,
        max_household_cookies=gs.household_max_cookies,
        cc_options=cc_options,
        max_network_agents=gs.household_max_network_agents,
        max_network_rank=gs.household_max_network_rank,
        max_household_networks=gs.household_max_networks,
    )
    had_households = yesterday is not None and "household_id" in yesterday.columns
    graph = assign_household_ids(
        persons.join(households.households, ["site_id", "cookie_id"]),
        yesterday if had_households else None,
        day=day,
        rounds=gs.stable_id_match_rounds,
    ).localCheckpoint()
    out = conform(
        graph.select(*IDENTITY_GRAPH.fieldNames()), IDENTITY_GRAPH, table="identity_graph"
    )
    write_partition(out, lake, "identity_graph", day)

    sizes = size_figures([(r["size"], r["components"]) for r in size_histogram(graph).collect()])
    by_type = {
        r["link_type"]: r["n"]
        for r in graph.groupBy("link_type").agg(F.count(F.lit(1)).alias("n")).collect()
    }
    new_ids = graph.where(~F.col("id_inherited")).select("unified_id").distinct().count()
    returning, changed, churn_share = 0, 0, None
    if yesterday is not None:
        c = churn(graph, yesterday).first()
        assert c is not None
        returning, changed = int(c["returning"]), int(c["changed"])
        churn_share = changed / returning if returning else 0.0
    household_churn = None
    if had_households:
        assert yesterday is not None
        hc = churn(graph, yesterday, column="household_id").first()
        assert hc is not None
        household_churn = int(hc["changed"]) / int(hc["returning"]) if hc["returning"] else 0.0
    if not households.evidence and gs.households:
        log.warning("graph %s: cookie_features has no home_networks: households of one", day)
    scores = (
        score_histogram(pairs, bins=gs.score_histogram_bins).collect() if pairs is not None else []
    )
    problems: list[str] = []
    still_joined = _pairs_sharing_an_id(graph, in_force) if honoured.pairs else 0
    if still_joined:
        problems.append(f"feedback: {still_joined:,} different_people pairs share a unified ID")
    expected = cookies.count()
    if sizes["cookies"] != expected:
        problems.append(
            f"graph: {sizes['cookies']:,} cookies in the graph, {expected:,} in the input"
        )

    visits_today, visits_before = _visit_volumes(spark, lake, day, gs.gate_history_days)
    figures: dict[str, Any] = {
        **sizes,
        "deterministic_edges": n_det,
        "probabilistic_edges": n_prob,
        "cookies_deterministic": int(by_type.get("deterministic", 0)),
        "cookies_probabilistic": int(by_type.get("probabilistic", 0)),
        "cookies_singleton": int(by_type.get("singleton", 0)),
        "generic_login_hashes": int(generic_counts["hashes"]),
        "generic_login_cookies": int(generic_counts["cookies"]),
        "overmerge_components": overmerge.oversized,
        "overmerge_parts": overmerge.parts,
        "overmerge_deterministic_only": overmerge.deterministic_only,
        "feedback_pairs": honoured.pairs,
        "feedback_pairs_split": honoured.violated - still_joined,
        "feedback_components_split": honoured.components,
        "feedback_edges_cut": honoured.edges_cut,
        "scored_pairs": volume,
        "scored_pairs_above_threshold": n_model_prob,
        "visits_written": visits_today,
        "score_histogram": score_figures(
            [(r["bin"], r["pairs"]) for r in scores], bins=gs.score_histogram_bins
        ),
        "churn": churn_share,
        "returning_cookies": returning,
        "changed_ids": changed,
        "new_ids": new_ids,
        "model_version": model_version,
        "deterministic_only": pairs is None,
        "cc_implementation": components.implementation,
        "cc_iterations": components.iterations,
        "vertex_id_collisions": collisions,
        **household_figures(graph, households, churn=household_churn),
        "note": note,
    }
    earlier = _earlier_health(spark, lake, day)
    live_day, live_edges = _live(earlier)
    degraded = degraded_reasons(
        deterministic_only=pairs is None,
        model_evidence=_model_evidence(spark, lake, day, earlier) if pairs is None else None,
        probabilistic_edges=n_prob,
        live_day=live_day,
        live_probabilistic_edges=live_edges,
        max_drop=gs.degraded_max_edge_drop,
    )
    figures |= {"degraded": bool(degraded), "degraded_reasons": degraded}
    for reason in degraded:
        log.error("graph %s is DEGRADED: %s", day, reason)
    gate = evaluate_gate(
        figures,
        _history_volumes(earlier, day, gs.gate_history_days),
        gs,
        problems=problems,
        degraded=degraded,
        visits=visits_today,
        history_visits=visits_before,
    )
    row = health_row(figures, gate)
    write_partition(health_frame(spark, row), lake, "health", day)
    metrics_note = emit_health_metrics(row, day=day, settings=settings)
    log.info("%s", metrics_note)
    return StageResult(
        STAGE,
        summary={
            "cookies": sizes["cookies"],
            "components": sizes["components"],
            "largest": sizes["largest_component"],
            "churn": "n/a" if churn_share is None else round(churn_share, 4),
            "model": model_version or "none",
            "probabilistic_edges": n_prob,
            "households": figures["households"],
            "feedback_split": f"{honoured.violated} of {honoured.pairs} pairs",
            "degraded": "DEGRADED: " + "; ".join(degraded) if degraded else "no",
            "gate": "passed" if gate.passed else "FAILED: " + "; ".join(gate.failures),
        },
        note=note,
    )
