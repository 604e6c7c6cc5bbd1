"""Quality of a day's identity graph against the simulator's ground truth.

Pairwise precision/recall/F1 of a clustering are computed from counts, never from the pairs
themselves: with ``n_c`` cookies in cluster c, ``n_p`` of person p and ``n_cp`` in both,
predicted pairs = sum C(n_c, 2), true pairs = sum C(n_p, 2), correct pairs = sum C(n_cp, 2).
Pairs involving an anonymous cookie (never logged in within the window) are the same sums minus
those over logged-in cookies only, so the anonymous figures need no extra pass either.

Cookies of a shared device (the family tablet) are used by several people, so "its person"
is not defined (the truth names one of them, arbitrarily): the headline figures leave those
cookies out, and ``including_shared_devices`` gives the same figures with the truth's pick.
Pairs between two other cookies that a shared cookie merged wrongly still count against the
graph in the headline figures.

Methods compared on the same cookies (``cookie_features/dt=D`` joined with ``truth/cookies``):
the graph (``identity_graph/dt=D``; until it exists, scored edges at the champion's threshold
plus deterministic links, counted as edges without transitive closure), deterministic links
alone (same login hash), the naive rule "same top IP and same user agent", and the
**session rule**, the floor a model must beat: logins, plus a hop between two sites on a quiet
IP (one cookie's event followed within 5 minutes by the other's, same IP and exact user
agent, nobody else's event between), plus two devices on the same quiet IP on 3+ of the same
days, closed transitively (connected components). Candidate recall enumerates only true pairs
(within a person), which is small.

``cross_device`` counts, for each method, the people with both a computer cookie and a phone
cookie (device type from the user agent) and how many of them the method links across the
two (a computer and a phone cookie of theirs in one cluster).

``link_figures`` gives, per method, the **reach** of anonymous cookies (the share linked to at
least one other cookie of their person) and recall **by pair kind**, from the truth's device:
``cross_site`` (one device, two sites: the same browser, or another browser of that device),
``two_devices`` (two devices of one person) and ``reset`` (one device, one site: a cookie that
was cleared or expired and its successor). Both are cluster-size sums too, over grouping sets
of (cluster, person, device, site) in one pass. ``--hide-logins`` (``training.hidden_logins``)
rebuilds the day without a seeded share of the logins and needs no truth. ``household``
gives the same pairwise figures at household level (``household_id`` against the truth's
households, shared devices included). Every figure is described in docs/evaluation.md.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings
from spark_jobs.common.evidence import session_rule_edges
from spark_jobs.common.io import (
    partition_exists,
    path_exists,
    read_partition,
    read_range,
    write_text,
)
from spark_jobs.common.schemas import PAIR_KEYS, pair_ordered
from spark_jobs.graph.connected_components import large_small_star
from spark_jobs.pair_scoring.session_evidence import window_evidence
from training.hidden_logins import render_hidden, run_hidden_logins
from training.metrics import c2, prf

log = logging.getLogger(__name__)

TARGETS = {
    "graph_precision": 0.95,
    "anonymous_reach": 0.25,
    "anonymous_link_precision": 0.95,
    "hidden_login_recovery": 0.50,
    "hidden_login_precision": 0.95,
    "recall_vs_deterministic": 3.0,
    "recall_vs_session_rule": 1.0,
    "candidate_recall_sharing_ip": 0.90,
    "max_pairs_per_cookie": 50.0,
    "household_precision": 0.90,
    "household_recall": 0.70,
}


def clustering_counts(assigned: DataFrame, *, cluster: Column) -> dict[str, int]:
    """Predicted and correct pairs of a clustering, all and logged-in-only.

    Args:
        assigned: one row per cookie with ``key`` (unique), ``person_id`` and ``logged`` (0/1).
        cluster: the cookie's cluster; null means a singleton.
    """
    df = assigned.withColumn(
        "cluster",
        F.coalesce(cluster.cast("string"), F.concat(F.lit("\u0000singleton:"), F.col("key"))),
    )
    by_cluster = df.groupBy("cluster").agg(F.count("*").alias("n"), F.sum("logged").alias("k"))
    by_both = df.groupBy("cluster", "person_id").agg(
        F.count("*").alias("n"), F.sum("logged").alias("k")
    )
    row = (
        by_cluster.agg(
            F.sum(c2(F.col("n"))).alias("predicted"),
            F.sum(c2(F.col("k"))).alias("predicted_logged"),
            F.max("n").alias("largest"),
        )
        .crossJoin(
            by_both.agg(
                F.sum(c2(F.col("n"))).alias("correct"),
                F.sum(c2(F.col("k"))).alias("correct_logged"),
            )
        )
        .first()
    )
    assert row is not None
    return {k: int(row[k] or 0) for k in row.asDict()}


def truth_counts(assigned: DataFrame) -> dict[str, int]:
    """True pairs, all and logged-in-only (clustering by person)."""
    row = (
        assigned.groupBy("person_id")
        .agg(F.count("*").alias("n"), F.sum("logged").alias("k"))
        .agg(
            F.sum(c2(F.col("n"))).alias("true"),
            F.sum(c2(F.col("k"))).alias("true_logged"),
            F.sum("n").alias("cookies"),
            F.sum("k").alias("logged_cookies"),
        )
        .first()
    )
    assert row is not None
    return {k: int(row[k] or 0) for k in row.asDict()}


def pairwise(counts: dict[str, int], truth: dict[str, int]) -> dict[str, Any]:
    """Precision/recall/F1 overall and for pairs involving an anonymous cookie."""
    correct, predicted = counts["correct"], counts["predicted"]
    overall = prf(correct, predicted - correct, truth["true"] - correct)
    a_correct = correct - counts["correct_logged"]
    a_predicted = predicted - counts["predicted_logged"]
    a_true = truth["true"] - truth["true_logged"]
    anonymous = prf(a_correct, a_predicted - a_correct, a_true - a_correct)
    return overall | {
        "predicted_pairs": predicted,
        "correct_pairs": correct,
        "largest_cluster": counts.get("largest"),
        "anonymous": anonymous | {"predicted_pairs": a_predicted, "correct_pairs": a_correct},
    }


def top_ip(ips: Column) -> Column:
    """The cookie's IP hash with the most events (null without IPs)."""
    ranked = F.sort_array(
        F.transform(ips, lambda x: F.struct(x["n_events"].alias("n"), x["ip_hash"].alias("ip"))),
        asc=False,
    )
    return F.when(F.size(ips) > 0, ranked[0]["ip"])


def naive_ip_ua_cluster() -> Column:
    """The naive rule's cluster: top IP hash plus browser family, major version and OS."""
    ua = F.concat_ws(
        "|",
        *(
            F.coalesce(F.col(c).cast("string"), F.lit("?"))
            for c in ("ua_family", "ua_major", "os_family")
        ),
    )
    return F.when(top_ip(F.col("ips")).isNotNull(), F.concat_ws("#", top_ip(F.col("ips")), ua))


def universe(features: DataFrame, truth: DataFrame) -> DataFrame:
    """The day's cookies with a known person: ``key``, ``logged``, ``shared``, person, signals."""
    shared = (
        F.coalesce(F.col("shared_device"), F.lit(False))
        if "shared_device" in truth.columns
        else F.lit(False)
    )
    device = [F.col("device_id")] if "device_id" in truth.columns else []
    return features.join(
        truth.select("site_id", "cookie_id", "person_id", shared.alias("shared"), *device),
        ["site_id", "cookie_id"],
    ).select(
        "shared",
        "site_id",
        "cookie_id",
        "person_id",
        "login_hash",
        "ips",
        "ip_prefixes",
        "ua_family",
        "ua_major",
        "os_family",
        (
            F.col("device_type")
            if "device_type" in features.columns
            else F.lit(None).cast("string").alias("device_type")
        ),
        (
            F.col("device_id")
            if "device_id" in truth.columns
            else F.lit(None).cast("long").alias("device_id")
        ),
        F.concat_ws("\u0001", "site_id", "cookie_id").alias("key"),
        F.col("login_hash").isNotNull().cast("int").alias("logged"),
    )


def true_pairs(cookies: DataFrame) -> DataFrame:
    """Every same-person pair once, ordered like candidate pairs, with shared-IP flags."""
    side = cookies.select(
        "site_id",
        "cookie_id",
        "person_id",
        "logged",
        F.transform("ips", lambda x: x["ip_hash"]).alias("ip"),
        F.transform("ip_prefixes", lambda x: x["ip_prefix"]).alias("prefix"),
    )
    left = side.select(*(F.col(c).alias(f"{c}_l") for c in side.columns))
    right = side.select(*(F.col(c).alias(f"{c}_r") for c in side.columns))
    return left.join(right, (F.col("person_id_l") == F.col("person_id_r")) & pair_ordered()).select(
        *PAIR_KEYS,
        ((F.col("logged_l") == 0) | (F.col("logged_r") == 0)).alias("anonymous"),
        F.coalesce(
            F.arrays_overlap("ip_l", "ip_r") | F.arrays_overlap("prefix_l", "prefix_r"),
            F.lit(False),
        ).alias("shares_ip"),
    )


def candidate_figures(truth_pairs: DataFrame, candidates: DataFrame, *, cookies: int) -> dict:
    """Candidate recall (all, sharing an IP signal, anonymous) and volume figures."""
    found = truth_pairs.join(
        candidates.select(*PAIR_KEYS).withColumn("found", F.lit(1)), PAIR_KEYS, "left"
    )
    is_found = F.col("found").isNotNull()
    row = found.agg(
        F.count("*").alias("true"),
        F.count(F.when(is_found, 1)).alias("found"),
        F.count(F.when(F.col("shares_ip"), 1)).alias("true_ip"),
        F.count(F.when(F.col("shares_ip") & is_found, 1)).alias("found_ip"),
        F.count(F.when(F.col("anonymous"), 1)).alias("true_anon"),
        F.count(F.when(F.col("anonymous") & is_found, 1)).alias("found_anon"),
    ).first()
    assert row is not None
    n_candidates = candidates.count()
    all_pairs = cookies * (cookies - 1) // 2

    def share(a: str, b: str) -> float:
        return row[a] / row[b] if row[b] else 0.0

    return {
        "pairs": n_candidates,
        "pairs_per_cookie": n_candidates / cookies if cookies else 0.0,
        "reduction_ratio": 1 - n_candidates / all_pairs if all_pairs else 0.0,
        "recall": share("found", "true"),
        "recall_sharing_ip": share("found_ip", "true_ip"),
        "recall_anonymous": share("found_anon", "true_anon"),
        "true_pairs_sharing_ip": int(row["true_ip"]),
    }


def scored_edge_counts(scored: DataFrame, cookies: DataFrame) -> dict[str, int]:
    """Scored pairs at or above their threshold, excluding deterministic ones: edge counts."""
    side = cookies.select("site_id", "cookie_id", "person_id", "logged", "login_hash")
    left = side.select(*(F.col(c).alias(f"{c}_l") for c in side.columns))
    right = side.select(*(F.col(c).alias(f"{c}_r") for c in side.columns))
    edges = (
        scored.where(F.col("score") >= F.col("threshold"))
        .join(left, ["site_id_l", "cookie_id_l"])
        .join(right, ["site_id_r", "cookie_id_r"])
        .where(~F.coalesce(F.col("login_hash_l") == F.col("login_hash_r"), F.lit(False)))
    )
    same = F.col("person_id_l") == F.col("person_id_r")
    both_logged = (F.col("logged_l") == 1) & (F.col("logged_r") == 1)
    row = edges.agg(
        F.count("*").alias("predicted"),
        F.count(F.when(same, 1)).alias("correct"),
        F.count(F.when(both_logged, 1)).alias("predicted_logged"),
        F.count(F.when(same & both_logged, 1)).alias("correct_logged"),
    ).first()
    assert row is not None
    return {k: int(row[k]) for k in row.asDict()}


def rule_clusters(everyone: DataFrame, rule_pairs: DataFrame) -> DataFrame:
    """``everyone`` with ``rule_cluster``: connected components over login edges (same hash)
    and ``rule_pairs`` (``PAIR_KEYS``) among these cookies."""
    vid = F.xxhash64("site_id", "cookie_id")  # evaluation only: a collision merges two cookies
    ids = everyone.select("site_id", "cookie_id", "login_hash", vid.alias("id"))
    roots = (
        ids.where(F.col("login_hash").isNotNull())
        .groupBy("login_hash")
        .agg(F.min("id").alias("root"))
    )
    login_edges = ids.join(roots, "login_hash").select(
        F.col("id").alias("src"), F.col("root").alias("dst")
    )
    side = ids.select("site_id", "cookie_id", "id")
    rule_edges = (
        rule_pairs.join(
            side.withColumnsRenamed({"site_id": "site_id_l", "cookie_id": "cookie_id_l"}),
            ["site_id_l", "cookie_id_l"],
        )
        .withColumnRenamed("id", "src")
        .join(
            side.withColumnsRenamed({"site_id": "site_id_r", "cookie_id": "cookie_id_r"}),
            ["site_id_r", "cookie_id_r"],
        )
        .select("src", F.col("id").alias("dst"))
    )
    labels = large_small_star(login_edges.unionByName(rule_edges), ids.select("id")).components
    return (
        everyone.withColumn("id", vid)
        .join(labels, "id", "left")
        .select(*everyone.columns, F.col("component").alias("rule_cluster"))
    )


def cross_device(assigned: DataFrame, *, cluster: Column) -> dict[str, int]:
    """People with a computer and a phone cookie (``eligible``) and those the clustering links
    across the two (``linked``). ``assigned`` needs ``person_id``, ``device_type``, ``key``."""
    df = assigned.withColumn(
        "c", F.coalesce(cluster.cast("string"), F.concat(F.lit("\u0000"), F.col("key")))
    )
    computer = F.col("device_type") == "desktop"
    phone = F.col("device_type") == "mobile"
    per_cluster = df.groupBy("person_id", "c").agg(
        F.max(computer.cast("int")).alias("computer"), F.max(phone.cast("int")).alias("phone")
    )
    per_person = per_cluster.groupBy("person_id").agg(
        F.max("computer").alias("computer"),
        F.max("phone").alias("phone"),
        F.max(F.col("computer") * F.col("phone")).alias("linked"),
    )
    row = per_person.agg(
        F.count(F.when((F.col("computer") == 1) & (F.col("phone") == 1), 1)).alias("eligible"),
        F.count(F.when(F.col("linked") == 1, 1)).alias("linked"),
    ).first()
    assert row is not None
    return {"eligible": int(row["eligible"]), "linked": int(row["linked"])}


# Within-cluster pair sums ``link_figures`` needs: name -> columns grouped beside the cluster.
_LEVELS: dict[str, tuple[str, ...]] = {
    "pairs": (),
    "same_person": ("person_id",),
    "same_device": ("device_id",),
    "same_device_site": ("device_id", "site_id"),
    "same_site": ("site_id",),
    "same_site_person": ("site_id", "person_id"),
}
_GROUPED = ("cluster", "person_id", "device_id", "site_id")


def within_cluster_sums(assigned: DataFrame, *, cluster: Column) -> dict[str, int]:
    """Sums of C(n, 2) over each level of ``_LEVELS`` within the clusters, in one pass.

    Also ``reached``: the anonymous cookies (``logged`` 0) that share their cluster with
    another cookie of their person. ``assigned`` needs ``key``, ``logged``, ``person_id``,
    ``device_id`` and ``site_id``; a null ``cluster`` is a singleton.
    """
    df = assigned.withColumn(
        "cluster",
        F.coalesce(cluster.cast("string"), F.concat(F.lit("\u0000singleton:"), F.col("key"))),
    )
    # grouping_id has a 1 bit for every grouping column a set leaves out, the first column
    # being the most significant bit.
    gid_of = {
        sum(1 << (len(_GROUPED) - 1 - i) for i, c in enumerate(_GROUPED) if c not in cols): name
        for name, cols in ((n, ("cluster", *lv)) for n, lv in _LEVELS.items())
    }
    grouped = df.groupingSets([("cluster", *lv) for lv in _LEVELS.values()], *_GROUPED).agg(
        F.grouping_id().alias("gid"),
        F.count(F.lit(1)).alias("n"),
        F.sum(1 - F.col("logged")).alias("anonymous"),
    )
    rows = (
        grouped.groupBy("gid")
        .agg(
            F.sum(c2(F.col("n"))).alias("sum"),
            F.sum(F.when(F.col("n") >= 2, F.col("anonymous"))).alias("reached"),
        )
        .collect()
    )
    sums = {gid_of[r["gid"]]: int(r["sum"] or 0) for r in rows}
    reached = next((int(r["reached"] or 0) for r in rows if gid_of[r["gid"]] == "same_person"), 0)
    return {name: sums.get(name, 0) for name in _LEVELS} | {"reached": reached}


def household_level(
    spark: SparkSession, lake: Lake, day: dt.date, features: DataFrame, truth: DataFrame
) -> dict[str, Any] | None:
    """Pairwise quality at household level: a pair is predicted when both cookies share a
    ``household_id``, true when the truth puts both in one household. Shared devices are
    included (a family tablet has one household). Beside the graph's households, the person
    level read as households (``unified_id``) shows what the household level adds. None
    without ``household_id`` in the graph or in the truth."""
    if "household_id" not in truth.columns or not partition_exists(
        spark, lake, "identity_graph", day
    ):
        return None
    graph = read_partition(spark, lake, "identity_graph", day)
    if "household_id" not in graph.columns:
        return None
    assigned = (
        features.select("site_id", "cookie_id", "login_hash")
        .join(
            truth.select("site_id", "cookie_id", F.col("household_id").alias("person_id")),
            ["site_id", "cookie_id"],
        )
        .join(
            graph.select("site_id", "cookie_id", "unified_id", "household_id"),
            ["site_id", "cookie_id"],
            "left",
        )
        .select(
            "person_id",
            "unified_id",
            "household_id",
            F.concat_ws("\u0001", "site_id", "cookie_id").alias("key"),
            F.col("login_hash").isNotNull().cast("int").alias("logged"),
        )
        .cache()
    )
    truth_n = truth_counts(assigned)
    sizes = (
        assigned.where(F.col("household_id").isNotNull())
        .groupBy("household_id")
        .agg(F.count(F.lit(1)).alias("n"))
        .agg(F.count(F.lit(1)).alias("households"), F.max("n").alias("largest"))
        .first()
    )
    assert sizes is not None
    out = {
        "cookies": truth_n["cookies"],
        "true_pairs": truth_n["true"],
        "households": int(sizes["households"] or 0),
        "largest_household": int(sizes["largest"] or 0),
        "methods": {
            "graph_households": pairwise(
                clustering_counts(assigned, cluster=F.col("household_id")), truth_n
            ),
            "graph_persons": pairwise(
                clustering_counts(assigned, cluster=F.col("unified_id")), truth_n
            ),
        },
    }
    assigned.unpersist()
    return out


def _share(a: int, b: int) -> float | None:
    return a / b if b else None


def link_figures(
    sums: dict[str, int], truth: dict[str, int], *, anonymous: int, anonymous_precision: float
) -> dict[str, Any]:
    """Reach of anonymous cookies and recall by pair kind, from ``within_cluster_sums`` of a
    method (``sums``) and of the truth (``truth``: the same sums with the person as cluster).

    Kinds are exclusive: ``two_devices`` (device ids differ), ``cross_site`` (one device, two
    sites), ``reset`` (one device, one site). Shared-device cookies are left out upstream, so
    a device has one owner and a pair of two people always joins two devices: ``cross_site``
    links are right by construction (precision None); ``two_devices`` precision is over the
    method's pairs of two devices; ``reset`` precision is over every linked pair of two
    cookies of one site, which is what the graph can tell apart.
    """

    def kind(linked: int, true: int, **extra: Any) -> dict[str, Any]:
        return {"true_pairs": true, "linked": linked, "recall": _share(linked, true)} | extra

    two = sums["same_person"] - sums["same_device"]
    return {
        "reach": {
            "anonymous_cookies": anonymous,
            "reached": sums["reached"],
            "reach": _share(sums["reached"], anonymous),
            # the anonymous cookies whose person has another cookie that day at all
            "linkable": truth["reached"],
            "reach_of_linkable": _share(sums["reached"], truth["reached"]),
            "link_precision": anonymous_precision,
        },
        "by_kind": {
            "cross_site": kind(
                sums["same_device"] - sums["same_device_site"],
                truth["same_device"] - truth["same_device_site"],
                precision=None,
            ),
            "two_devices": kind(
                two,
                truth["same_person"] - truth["same_device"],
                predicted=sums["pairs"] - sums["same_device"],
                precision=_share(two, sums["pairs"] - sums["same_device"]),
            ),
            "reset": kind(
                sums["same_device_site"],
                truth["same_device_site"],
                predicted=sums["same_site"],
                precision=_share(sums["same_site_person"], sums["same_site"]),
            ),
        },
    }


def _window_evidence(
    spark: SparkSession, settings: AppSettings, lake: Lake, day: dt.date
) -> DataFrame | None:
    """The session evidence over the day's window (None without ``session_pairs``)."""
    start = day - dt.timedelta(days=settings.etl.feature_window_days - 1)
    try:
        daily = read_range(spark, lake, "session_pairs", start, day)
    except FileNotFoundError:
        return None
    return window_evidence(daily)


def _health_churn(spark: SparkSession, lake: Lake, day: dt.date) -> float | None:
    if not partition_exists(spark, lake, "health", day):
        return None
    row = read_partition(spark, lake, "health", day).first()
    if row is None:
        return None
    values = {k: v for k, v in row.asDict().items() if "churn" in k and isinstance(v, float | int)}
    return float(next(iter(values.values()))) if values else None


def evaluate_day(spark: SparkSession, settings: AppSettings, day: dt.date) -> dict[str, Any]:
    """Every figure of the day's evaluation (see the module docstring)."""
    lake = Lake(settings.lake.root)
    features = read_partition(spark, lake, "cookie_features", day)
    truth = spark.read.parquet(lake.path("truth", "cookies"))
    everyone = universe(features, truth).cache()
    cookies = everyone.where(~F.col("shared"))
    truth_n = truth_counts(cookies)
    deterministic = clustering_counts(cookies, cluster=F.col("login_hash"))
    naive = clustering_counts(cookies, cluster=naive_ip_ua_cluster())
    n_cookies = truth_n["cookies"]
    n_anonymous = n_cookies - truth_n["logged_cookies"]
    result: dict[str, Any] = {
        "day": day.isoformat(),
        "truth": True,
        "cookies": n_cookies,
        "anonymous_cookies": n_anonymous,
        "shared_device_cookies_excluded": everyone.count() - n_cookies,
        "true_pairs": truth_n["true"],
        "true_pairs_anonymous": truth_n["true"] - truth_n["true_logged"],
        "methods": {
            "deterministic": pairwise(deterministic, truth_n),
            "naive_ip_ua": pairwise(naive, truth_n),
        },
    }
    crossing = {
        "deterministic": cross_device(cookies, cluster=F.col("login_hash")),
    }
    truth_sums = within_cluster_sums(cookies, cluster=F.col("person_id"))
    has_devices = "device_id" in truth.columns

    def add_links(name: str, frame: DataFrame, cluster: Column) -> None:
        method = result["methods"][name]
        figures = link_figures(
            within_cluster_sums(frame, cluster=cluster),
            truth_sums,
            anonymous=n_anonymous,
            anonymous_precision=method["anonymous"]["precision"],
        )
        method |= figures if has_devices else {"reach": figures["reach"]}

    add_links("deterministic", cookies, F.col("login_hash"))
    add_links("naive_ip_ua", cookies, naive_ip_ua_cluster())
    evidence = _window_evidence(spark, settings, lake, day)
    if evidence is not None:
        evidence = evidence.cache()
        # The floor as stated (hops + 3 co-present days) and the graph's own rule (hops).
        for name, codays in (("session_rule", 3), ("session_rule_hops", 0)):
            rule = session_rule_edges(evidence, min_codays=codays)
            ruled = rule_clusters(everyone, rule).cache()
            result["methods"][name] = pairwise(
                clustering_counts(ruled.where(~F.col("shared")), cluster=F.col("rule_cluster")),
                truth_n,
            )
            crossing[name] = cross_device(
                ruled.where(~F.col("shared")), cluster=F.col("rule_cluster")
            )
            add_links(name, ruled.where(~F.col("shared")), F.col("rule_cluster"))
            ruled.unpersist()
        evidence.unpersist()
    result["cross_device"] = crossing
    edges = None
    if partition_exists(spark, lake, "scored_pairs", day):
        edges = scored_edge_counts(read_partition(spark, lake, "scored_pairs", day), cookies)
    if partition_exists(spark, lake, "identity_graph", day):
        graph = read_partition(spark, lake, "identity_graph", day).select(
            "site_id", "cookie_id", "unified_id"
        )
        assigned = everyone.join(graph, ["site_id", "cookie_id"], "left").cache()
        result["graph_source"] = "identity_graph"
        result["methods"]["graph"] = pairwise(
            clustering_counts(assigned.where(~F.col("shared")), cluster=F.col("unified_id")),
            truth_n,
        )
        crossing["graph"] = cross_device(
            assigned.where(~F.col("shared")), cluster=F.col("unified_id")
        )
        add_links("graph", assigned.where(~F.col("shared")), F.col("unified_id"))
        truth_all = truth_counts(everyone)
        result["including_shared_devices"] = {
            "graph": pairwise(clustering_counts(assigned, cluster=F.col("unified_id")), truth_all),
            "deterministic": pairwise(
                clustering_counts(everyone, cluster=F.col("login_hash")), truth_all
            ),
        }
        assigned.unpersist()
        largest = (
            read_partition(spark, lake, "identity_graph", day).agg(F.max("component_size")).first()
        )
        result["largest_component"] = None if largest is None else largest[0]
    elif edges is not None:
        combined: dict[str, Any] = {k: deterministic[k] + edges[k] for k in edges}
        combined["largest"] = None
        result["graph_source"] = "scored edges at threshold + deterministic (no closure)"
        result["methods"]["graph"] = pairwise(combined, truth_n)
    if edges is not None:
        result["scored_edges"] = {
            "above_threshold": edges["predicted"],
            "precision": edges["correct"] / edges["predicted"] if edges["predicted"] else 0.0,
        }
    if partition_exists(spark, lake, "candidate_pairs", day):
        result["candidates"] = candidate_figures(
            true_pairs(cookies),
            read_partition(spark, lake, "candidate_pairs", day),
            cookies=features.count(),
        )
    households = household_level(spark, lake, day, features, truth)
    if households is not None:
        result["household"] = households
    result["churn"] = _health_churn(spark, lake, day)
    everyone.unpersist()
    return result | {"targets": check_targets(result)}


def check_targets(result: dict[str, Any]) -> dict[str, Any]:
    """Each target of the issue with the measured figure and whether it is met."""
    methods = result.get("methods") or {}
    det_recall = (methods.get("deterministic") or {}).get("recall")
    graph = methods.get("graph")
    cand = result.get("candidates")
    reach = (graph or {}).get("reach") or {}
    hidden = (result.get("hidden_logins") or {}).get("rebuilt") or {}
    household = ((result.get("household") or {}).get("methods") or {}).get("graph_households")
    measured = {
        "graph_precision": graph["precision"] if graph else None,
        "anonymous_reach": reach.get("reach"),
        "anonymous_link_precision": reach.get("link_precision"),
        "hidden_login_recovery": hidden.get("recovery"),
        "hidden_login_precision": hidden.get("precision"),
        "recall_vs_deterministic": (graph["recall"] / det_recall if graph and det_recall else None),
        "recall_vs_session_rule": (
            graph["recall"] / methods["session_rule"]["recall"]
            if graph and methods.get("session_rule", {}).get("recall")
            else None
        ),
        "candidate_recall_sharing_ip": cand["recall_sharing_ip"] if cand else None,
        "max_pairs_per_cookie": cand["pairs_per_cookie"] if cand else None,
        "household_precision": household["precision"] if household else None,
        "household_recall": household["recall"] if household else None,
    }
    met = {
        name: None
        if value is None
        else (value < TARGETS[name] if name == "max_pairs_per_cookie" else value >= TARGETS[name])
        for name, value in measured.items()
    }
    return {
        name: {"target": TARGETS[name], "measured": measured[name], "met": met[name]}
        for name in TARGETS
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _links_table(result: dict[str, Any]) -> Any:
    """Anonymous reach and recall by pair kind, one row per method."""
    from rich.table import Table

    table = Table(title="anonymous reach and recall by pair kind (truth's devices)")
    cols = ("method", "reach", "of linkable", "cross-site", "two devices", "(precision)")
    for col in (*cols, "reset", "(same-site precision)"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, m in (result.get("methods") or {}).items():
        if "reach" not in m:
            continue
        kinds = m.get("by_kind") or {}

        def recall(kind: str, kinds: dict[str, Any] = kinds) -> str:
            return _pct((kinds.get(kind) or {}).get("recall"))

        def precision(kind: str, kinds: dict[str, Any] = kinds) -> str:
            return _pct((kinds.get(kind) or {}).get("precision"))

        table.add_row(
            name,
            _pct(m["reach"]["reach"]),
            _pct(m["reach"]["reach_of_linkable"]),
            recall("cross_site"),
            recall("two_devices"),
            precision("two_devices"),
            recall("reset"),
            precision("reset"),
        )
    return table


def _households_table(result: dict[str, Any]) -> Any:
    """Household-level pairwise quality: the graph's households beside its persons."""
    from rich.table import Table

    h = result["household"]
    table = Table(
        title=f"household level ({h['cookies']:,} cookies, {h['true_pairs']:,} true pairs, "
        f"{h['households']:,} households, largest {h['largest_household']:,})"
    )
    for col in ("clustering", "precision", "recall", "F1", "pairs"):
        table.add_column(col, justify="left" if col == "clustering" else "right")
    for name, m in h["methods"].items():
        table.add_row(
            name,
            f"{m['precision']:.4f}",
            f"{m['recall']:.4f}",
            f"{m['f1']:.4f}",
            f"{m['predicted_pairs']:,}",
        )
    return table


def _methods_table(result: dict[str, Any]) -> Any:
    from rich.table import Table

    methods = Table(
        title=f"pairwise quality on {result['day']} "
        f"({result['cookies']:,} cookies, {result['true_pairs']:,} true pairs)"
    )
    for col in ("method", "precision", "recall", "F1", "pairs", "anon. precision", "anon. recall"):
        methods.add_column(col, justify="left" if col == "method" else "right")
    rows = list(result["methods"].items()) + [
        (f"{name} (incl. shared devices)", m)
        for name, m in (result.get("including_shared_devices") or {}).items()
    ]
    for name, m in rows:
        methods.add_row(
            name,
            f"{m['precision']:.4f}",
            f"{m['recall']:.4f}",
            f"{m['f1']:.4f}",
            f"{m['predicted_pairs']:,}",
            f"{m['anonymous']['precision']:.4f}",
            f"{m['anonymous']['recall']:.4f}",
        )
    return methods


def render(result: dict[str, Any]) -> Any:
    """Rich tables of the evaluation: methods side by side, reach and pair kinds, the hidden
    logins' rebuild, then the other figures. A result without truth has only the last two."""
    from rich.console import Group
    from rich.table import Table

    parts = []
    if result.get("methods"):
        parts += [_methods_table(result), _links_table(result)]
    if result.get("household"):
        parts.append(_households_table(result))
    if result.get("hidden_logins"):
        parts.append(render_hidden(result["hidden_logins"]))
    other = Table(title="candidates, graph, targets", show_header=False)
    other.add_column("what", style="bold")
    other.add_column("value", justify="right")
    for key, value in (result.get("candidates") or {}).items():
        other.add_row(
            f"candidates.{key}", f"{value:,.4f}" if isinstance(value, float) else f"{value:,}"
        )
    for name, c in (result.get("cross_device") or {}).items():
        other.add_row(f"cross_device.{name}", f"{c['linked']:,} of {c['eligible']:,} people")
    for key in ("graph_source", "largest_component", "churn"):
        if result.get(key) is not None:
            other.add_row(key, str(result[key]))
    for key, value in (result.get("scored_edges") or {}).items():
        other.add_row(
            f"scored_edges.{key}", f"{value:,.4f}" if isinstance(value, float) else f"{value:,}"
        )
    for name, t in result["targets"].items():
        measured = "n/a" if t["measured"] is None else f"{t['measured']:.4g}"
        verdict = {True: "[green]met[/]", False: "[red]NOT met[/]", None: "n/a"}[t["met"]]
        other.add_row(f"target {name} ({t['target']})", f"{measured} {verdict}")
    return Group(*parts, other)


def run_evaluation(
    spark: SparkSession,
    settings: AppSettings,
    day: dt.date,
    *,
    out: str | None = None,
    hide_logins: float | None = None,
    seed: int = 1,
    work_root: str | None = None,
    keep_work_lake: bool = False,
    on_step: Callable[[str, int, int], None] | None = None,
    show: bool = True,
) -> dict[str, Any]:
    """Evaluate day ``day`` of the lake; print (``show``) and save the figures.

    With ``truth/cookies`` (a simulated lake): every figure against the truth. With
    ``hide_logins``: also the hidden-logins rebuild (``training.hidden_logins``), which needs
    no truth, so a production lake gets that part alone.

    Args:
        out: JSON file to write (local or ``s3://``); None: ``<lake>/evaluation/<D>.json``.
            Only ``make eval`` writes the committed ``benchmarks/results/eval.json``.
        hide_logins: share of the logged-in people whose logins are hidden; None: no rebuild.
        seed: picks the hidden logins (same seed, same people).
        work_root: the rebuild's work lake (default under the lake, ``_evaluation/…``).
        keep_work_lake: keep the work lake afterwards (for inspection).
        on_step: progress callback of the rebuild, ``(step, done, total)``.

    Raises:
        FileNotFoundError: without the day's ``cookie_features``, or without ``truth/cookies``
            when ``hide_logins`` is None.
    """
    from rich.console import Console

    lake = Lake(settings.lake.root)
    features = lake.partition("cookie_features", day)
    if not path_exists(spark, features):
        raise FileNotFoundError(f"evaluation needs {features}")
    has_truth = path_exists(spark, lake.path("truth", "cookies"))
    if not has_truth and hide_logins is None:
        raise FileNotFoundError(
            f"evaluation needs {lake.path('truth', 'cookies')} (or --hide-logins, which does not)"
        )
    result: dict[str, Any] = (
        evaluate_day(spark, settings, day) if has_truth else {"day": day.isoformat()}
    )
    result["truth"] = has_truth
    if hide_logins is not None:
        result["hidden_logins"] = run_hidden_logins(
            spark,
            settings,
            day,
            share=hide_logins,
            seed=seed,
            work_root=work_root,
            keep=keep_work_lake,
            on_step=on_step,
        )
    result["targets"] = check_targets(result)
    if show:
        Console().print(render(result))
    target = out or lake.evaluation(day)
    write_text(spark, target, json.dumps(result, indent=2, default=str))
    log.info("wrote %s", target)
    return result
