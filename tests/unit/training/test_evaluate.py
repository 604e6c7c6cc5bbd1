"""Pairwise metrics from cluster-size sums, checked against brute-force pair enumeration."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import functions as F

from training.evaluate import (
    candidate_figures,
    clustering_counts,
    naive_ip_ua_cluster,
    pairwise,
    true_pairs,
    truth_counts,
)

pytestmark = pytest.mark.spark

SEED = 20261121


def _brute_force(rows):
    """Predicted/correct/true pairs by enumeration; 'anonymous' = involves a logged-out cookie."""
    figures = {"pred": 0, "correct": 0, "true": 0, "a_pred": 0, "a_correct": 0, "a_true": 0}
    for a, b in itertools.combinations(rows, 2):
        same_cluster = a[1] is not None and a[1] == b[1]
        same_person = a[2] == b[2]
        anonymous = not (a[3] and b[3])
        figures["pred"] += same_cluster
        figures["correct"] += same_cluster and same_person
        figures["true"] += same_person
        figures["a_pred"] += same_cluster and anonymous
        figures["a_correct"] += same_cluster and same_person and anonymous
        figures["a_true"] += same_person and anonymous
    return figures


@pytest.mark.parametrize("seed", [SEED, SEED + 1])
def test_cluster_sums_match_pair_enumeration(spark, seed):
    rng = np.random.default_rng(seed)
    n = 300
    rows = [
        (
            f"k{i}",
            None if rng.random() < 0.2 else f"c{rng.integers(0, 60)}",  # None: singleton
            int(rng.integers(0, 80)),
            int(rng.random() < 0.5),
        )
        for i in range(n)
    ]
    df = spark.createDataFrame(rows, "key string, cluster string, person_id long, logged int")
    got = pairwise(clustering_counts(df, cluster=F.col("cluster")), truth_counts(df))
    want = _brute_force(rows)
    assert got["predicted_pairs"] == want["pred"]
    assert got["correct_pairs"] == want["correct"]
    assert got["precision"] == pytest.approx(want["correct"] / want["pred"])
    assert got["recall"] == pytest.approx(want["correct"] / want["true"])
    assert got["anonymous"]["predicted_pairs"] == want["a_pred"]
    assert got["anonymous"]["recall"] == pytest.approx(want["a_correct"] / want["a_true"])


def test_candidate_recall_and_naive_rule(spark):
    ip = "struct<ip_hash:string,ip_prefix:string,n_events:bigint,ip_popularity:bigint>"
    cookies = spark.createDataFrame(
        [
            # person 1: three cookies; c1/c2 share an IP, c3 shares nothing
            ("s1", "c1", 1, 1, [("ipA", "p1", 5, 1)], [("p1", 5)], "Chrome", 120, "Windows"),
            (
                "s2",
                "c2",
                1,
                0,
                [("ipA", "p1", 9, 1), ("ipB", "p2", 1, 1)],
                [("p1", 9)],
                "Chrome",
                120,
                "Windows",
            ),
            ("s3", "c3", 1, 0, [("ipC", "p3", 2, 1)], [("p3", 2)], "Safari", 17, "iOS"),
            # person 2: alone on ipA with the same browser: the naive rule merges it wrongly
            ("s1", "c4", 2, 0, [("ipA", "p1", 3, 1)], [("p1", 3)], "Chrome", 120, "Windows"),
        ],
        f"site_id string, cookie_id string, person_id long, logged int, ips array<{ip}>, "
        "ip_prefixes array<struct<ip_prefix:string,n_events:bigint>>, ua_family string, "
        "ua_major int, os_family string",
    ).withColumn("key", F.concat_ws("/", "site_id", "cookie_id"))
    pairs = true_pairs(cookies)
    assert pairs.count() == 3  # C(3, 2) within person 1, none for person 2
    candidates = spark.createDataFrame(
        [("s1", "c1", "s2", "c2"), ("s1", "c4", "s2", "c2")],
        "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string",
    )
    figures = candidate_figures(pairs, candidates, cookies=4)
    assert figures["recall"] == pytest.approx(1 / 3)
    assert figures["recall_sharing_ip"] == 1.0  # the one IP-sharing true pair was found
    assert figures["pairs_per_cookie"] == 0.5
    assert figures["reduction_ratio"] == pytest.approx(1 - 2 / 6)

    naive = pairwise(
        clustering_counts(cookies, cluster=naive_ip_ua_cluster()), truth_counts(cookies)
    )
    # c1 (top ipA), c2 (top ipA), c4 (top ipA), same UA: 3 predicted pairs, 1 correct.
    assert (naive["predicted_pairs"], naive["correct_pairs"]) == (3, 1)


def _hand_built_lake(spark, root):
    """Four cookies of two people, their candidate and scored pairs, on 2026-01-10."""
    from idgraph.core.lake import Lake
    from spark_jobs.common.io import write_partition

    day = dt.date(2026, 1, 10)
    lake = Lake(str(root))
    ip = "struct<ip_hash:string,ip_prefix:string,n_events:bigint,ip_popularity:bigint>"
    features = spark.createDataFrame(
        [
            ("s1", "c1", "h1", [("ipA", "p1", 5, 1)], [("p1", 5)], "Chrome", 120, "Windows"),
            ("s2", "c2", "h1", [("ipA", "p1", 9, 1)], [("p1", 9)], "Chrome", 120, "Windows"),
            ("s3", "c3", None, [("ipA", "p1", 2, 1)], [("p1", 2)], "Safari", 17, "iOS"),
            ("s1", "c4", None, [("ipD", "p4", 3, 1)], [("p4", 3)], "Chrome", 120, "Windows"),
        ],
        f"site_id string, cookie_id string, login_hash string, ips array<{ip}>, "
        "ip_prefixes array<struct<ip_prefix:string,n_events:bigint>>, ua_family string, "
        "ua_major int, os_family string",
    )
    write_partition(features, lake, "cookie_features", day)
    spark.createDataFrame(
        [("s1", "c1", 1), ("s2", "c2", 1), ("s3", "c3", 1), ("s1", "c4", 2)],
        "site_id string, cookie_id string, person_id long",
    ).write.parquet(lake.path("truth", "cookies"))
    write_partition(
        spark.createDataFrame(
            [("s1", "c1", "s2", "c2", ["ip"]), ("s2", "c2", "s3", "c3", ["ip"])],
            "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string, "
            "blocking_keys array<string>",
        ),
        lake,
        "candidate_pairs",
        day,
    )
    write_partition(
        spark.createDataFrame(
            [("s1", "c1", "s2", "c2", 0.99, 0.5, "1"), ("s2", "c2", "s3", "c3", 0.9, 0.5, "1")],
            "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string, "
            "score double, threshold double, model_version string",
        ),
        lake,
        "scored_pairs",
        day,
    )
    return lake, day


def test_evaluate_day_on_a_hand_built_lake(spark, tmp_path):
    from idgraph.core.settings import load_settings
    from spark_jobs.common.io import write_partition
    from training.evaluate import evaluate_day

    lake, day = _hand_built_lake(spark, tmp_path / "lake")
    settings = load_settings(lake={"root": lake.root})

    fallback = evaluate_day(spark, settings, day)
    assert fallback["graph_source"].startswith("scored edges")
    # deterministic c1-c2 plus the scored edge c2-c3 (c1-c2 is not counted twice)
    assert fallback["methods"]["graph"]["predicted_pairs"] == 2
    assert fallback["methods"]["deterministic"]["recall"] == pytest.approx(1 / 3)
    assert fallback["candidates"]["recall"] == pytest.approx(2 / 3)

    write_partition(
        spark.createDataFrame(
            [
                ("s1", "c1", "U1", 3),
                ("s2", "c2", "U1", 3),
                ("s3", "c3", "U1", 3),
                ("s1", "c4", "U2", 1),
            ],
            "site_id string, cookie_id string, unified_id string, component_size long",
        ),
        lake,
        "identity_graph",
        day,
    )
    result = evaluate_day(spark, settings, day)
    graph = result["methods"]["graph"]
    assert result["graph_source"] == "identity_graph"
    assert (graph["precision"], graph["recall"]) == (1.0, 1.0)
    assert graph["anonymous"]["recall"] == 1.0  # c3 joined through the scored edge
    assert result["targets"]["recall_vs_deterministic"]["measured"] == pytest.approx(3.0)
    assert result["targets"]["graph_precision"]["met"] is True
    assert result["largest_component"] == 3

    # c3 is a family tablet the truth gives to person 2: the headline figures leave it out,
    # the figures including shared devices count its merge into U1 as two wrong pairs.
    spark.createDataFrame(
        [
            ("s1", "c1", 1, False),
            ("s2", "c2", 1, False),
            ("s3", "c3", 2, True),
            ("s1", "c4", 2, False),
        ],
        "site_id string, cookie_id string, person_id long, shared_device boolean",
    ).write.mode("overwrite").parquet(lake.path("truth", "cookies"))
    shared = evaluate_day(spark, settings, day)
    assert shared["shared_device_cookies_excluded"] == 1
    assert shared["cookies"] == 3
    graph = shared["methods"]["graph"]
    assert (graph["predicted_pairs"], graph["correct_pairs"]) == (1, 1)  # c1-c2 only
    everyone = shared["including_shared_devices"]["graph"]
    assert (everyone["predicted_pairs"], everyone["correct_pairs"]) == (3, 1)
    assert everyone["recall"] == pytest.approx(1 / 2)  # c1-c2 found, c3-c4 missed


def test_session_rule_clusters_close_logins_and_rule_pairs_transitively(spark):
    from training.evaluate import cross_device, rule_clusters

    cookies = spark.createDataFrame(
        [
            # person 1: a laptop cookie logged in on two sites, a phone cookie hopped to
            ("a", "1", "L1", 1, "desktop"),
            ("b", "1", "L1", 1, "desktop"),
            ("c", "1", None, 1, "mobile"),
            # person 2: a phone cookie alone, and a laptop cookie the rule never saw
            ("a", "2", None, 2, "mobile"),
            ("b", "2", None, 2, "desktop"),
            # a cookie outside the universe (opted out) must not bridge anyone
        ],
        "site_id string, cookie_id string, login_hash string, person_id long, device_type string",
    ).withColumn("key", F.concat_ws("|", "site_id", "cookie_id"))
    rule = spark.createDataFrame(
        [("b", "1", "c", "1"), ("a", "2", "z", "9"), ("b", "2", "z", "9")],
        "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string",
    )
    got = {(r.site_id, r.cookie_id): r.rule_cluster for r in rule_clusters(cookies, rule).collect()}
    assert got["a", "1"] == got["b", "1"] == got["c", "1"]
    assert got["a", "2"] != got["b", "2"]
    assert len({got["a", "1"], got["a", "2"], got["b", "2"]}) == 3
    assert cross_device(rule_clusters(cookies, rule), cluster=F.col("rule_cluster")) == {
        "eligible": 2,
        "linked": 1,
    }
    assert cross_device(cookies, cluster=F.col("login_hash")) == {"eligible": 2, "linked": 0}


def _kinds_brute_force(rows, cluster_of):
    """Reach and pair kinds by enumeration. rows: (key, person, device, site, logged)."""
    got = {"cross_site": [0, 0], "two_devices": [0, 0], "reset": [0, 0]}  # [linked, true]
    two_devices_predicted = same_site_predicted = same_site_correct = 0
    for a, b in itertools.combinations(rows, 2):
        linked = cluster_of(a) is not None and cluster_of(a) == cluster_of(b)
        if a[1] == b[1]:
            kind = "two_devices" if a[2] != b[2] else "cross_site" if a[3] != b[3] else "reset"
            got[kind][0] += linked
            got[kind][1] += 1
        two_devices_predicted += linked and a[2] != b[2]
        same_site_predicted += linked and a[3] == b[3]
        same_site_correct += linked and a[3] == b[3] and a[1] == b[1]
    reached = sum(
        1
        for r in rows
        if not r[4]
        and any(
            o is not r
            and o[1] == r[1]
            and cluster_of(r) is not None
            and cluster_of(o) == cluster_of(r)
            for o in rows
        )
    )
    return got, two_devices_predicted, same_site_predicted, same_site_correct, reached


@pytest.mark.parametrize("seed", [SEED + 7])
def test_reach_and_pair_kinds_match_pair_enumeration(spark, seed):
    from training.evaluate import link_figures, within_cluster_sums

    rng = np.random.default_rng(seed)
    rows, clusters = [], {}
    for i in range(240):
        person = int(rng.integers(0, 40))
        device = person * 3 + int(rng.integers(0, 2))  # a device belongs to one person
        rows.append((f"k{i}", person, device, f"s{rng.integers(0, 4)}", int(rng.random() < 0.3)))
        # clusters mostly follow the person, sometimes a wrong one, sometimes none
        r = rng.random()
        clusters[f"k{i}"] = None if r < 0.2 else f"c{person}" if r < 0.85 else f"c{person + 1}"
    df = spark.createDataFrame(
        [(*r, clusters[r[0]]) for r in rows],
        "key string, person_id long, device_id long, site_id string, logged int, cluster string",
    )
    anonymous = sum(1 for r in rows if not r[4])
    figures = link_figures(
        within_cluster_sums(df, cluster=F.col("cluster")),
        within_cluster_sums(df, cluster=F.col("person_id")),
        anonymous=anonymous,
        anonymous_precision=0.5,
    )
    kinds, two_pred, site_pred, site_correct, reached = _kinds_brute_force(
        rows, lambda r: clusters[r[0]]
    )
    for kind, (linked, true) in kinds.items():
        assert figures["by_kind"][kind]["linked"] == linked, kind
        assert figures["by_kind"][kind]["true_pairs"] == true, kind
        assert true > 0
    assert figures["by_kind"]["two_devices"]["predicted"] == two_pred
    assert figures["by_kind"]["reset"]["precision"] == pytest.approx(site_correct / site_pred)
    assert figures["reach"]["reached"] == reached
    assert figures["reach"]["reach"] == pytest.approx(reached / anonymous)
    _, _, _, _, linkable = _kinds_brute_force(rows, lambda r: r[1])
    assert figures["reach"]["linkable"] == linkable


COMMITTED = Path(__file__).resolve().parents[3] / "benchmarks" / "results" / "eval.json"


def test_evaluation_goes_under_the_lake_not_over_the_committed_figures(
    spark, tmp_path, monkeypatch
):
    """The demo and `idgraph evaluate` write <lake>/evaluation/<D>.json (or --out); only
    `make eval` writes benchmarks/results/eval.json."""
    import json

    from typer.testing import CliRunner

    import idgraph.pipeline
    from idgraph.cli import app
    from idgraph.core.settings import load_settings
    from training.evaluate import run_evaluation

    committed = COMMITTED.read_bytes()
    lake, day = _hand_built_lake(spark, tmp_path / "lake")
    figures = run_evaluation(spark, load_settings(lake={"root": lake.root}), day, show=False)
    written = json.loads(Path(lake.evaluation(day)).read_text())
    assert lake.evaluation(day) == f"{lake.root}/evaluation/2026-01-10.json"
    assert written["day"] == "2026-01-10" and written["targets"] == figures["targets"]

    class KeptSession:  # the command stops its session; this test's is shared
        def __getattr__(self, name):
            return getattr(spark, name)

        def stop(self):
            pass

    monkeypatch.setattr(idgraph.pipeline, "build_session", lambda settings: KeptSession())
    Path(lake.evaluation(day)).unlink()
    cli = CliRunner().invoke(app, ["evaluate", "--lake", lake.root, "--date", "2026-01-10"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(Path(lake.evaluation(day)).read_text())["day"] == "2026-01-10"
    elsewhere = tmp_path / "given" / "figures.json"
    cli = CliRunner().invoke(
        app, ["evaluate", "--lake", lake.root, "--date", "2026-01-10", "--out", str(elsewhere)]
    )
    assert cli.exit_code == 0, cli.output
    assert json.loads(elsewhere.read_text())["day"] == "2026-01-10"
    assert COMMITTED.read_bytes() == committed
