"""Stage ``graph`` on a tiny hand-built lake over two days.

Day 1 has no scored pairs (no champion yet): deterministic links only. Day 2 adds scored pairs:
a merge into an existing person, a chain of 6 cookies above the cap of 4 that over-merge
protection must split, a pair below threshold and a pair touching an opted-out cookie.
"""

from __future__ import annotations

import datetime as dt

import pytest

from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from spark_jobs.common.io import read_partition, write_partition
from spark_jobs.common.optouts import OPTOUTS
from spark_jobs.common.schemas import COOKIE_FEATURES, SCORED_PAIRS
from spark_jobs.graph.health import HEALTH, format_health
from spark_jobs.graph.job import run_graph

pytestmark = [pytest.mark.spark, pytest.mark.slow]

D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
LOGIN_A, LOGIN_B, LOGIN_C, LOGIN_G = "a" * 64, "b" * 64, "c" * 64, "f" * 64


def _cookie(site: str, cookie: str, login: str | None = None, device: str = "mobile") -> tuple:
    row = dict.fromkeys(COOKIE_FEATURES.fieldNames())
    row.update(site_id=site, cookie_id=cookie, login_hash=login, device_type=device)
    return tuple(row[name] for name in COOKIE_FEATURES.fieldNames())


DAY1_COOKIES = [
    _cookie("s1", "a1", LOGIN_A),
    _cookie("s2", "a2", LOGIN_A),
    _cookie("s1", "opt", LOGIN_A),  # opted out: must never appear
    _cookie("s1", "x"),
    *[_cookie("s4", f"g{i}", LOGIN_G) for i in range(5)],  # generic: 5 cookies > 3
]
CHAIN = [
    ("p1", "p2", 0.9),
    ("p2", "p3", 0.9),
    ("p3", "p4", 0.6),
    ("p4", "p5", 0.9),
    ("p5", "p6", 0.9),
]
BRIDGE = [_cookie("s5", "b1", LOGIN_B), _cookie("s5", "z"), _cookie("s6", "c1", LOGIN_C)]
DAY2_COOKIES = DAY1_COOKIES + [_cookie("s3", f"p{i}") for i in range(1, 7)] + BRIDGE
DAY2_PAIRS = [
    *[("s3", a, "s3", b, score) for a, b, score in CHAIN],
    ("s1", "x", "s2", "a2", 0.8),  # x joins person A
    ("s4", "g1", "s4", "g2", 0.3),  # below threshold
    ("s1", "opt", "s3", "p1", 0.99),  # opted-out cookie: dropped
    ("s5", "b1", "s5", "z", 0.9),  # anonymous z joins person B ...
    ("s5", "z", "s6", "c1", 0.52),  # ... and person C: two logins in 3 cookies, split
]


@pytest.fixture(scope="module")
def lake_after_two_days(spark, tmp_path_factory):  # type: ignore[no-untyped-def]
    lake = Lake(str(tmp_path_factory.mktemp("graph-lake")))
    settings = load_settings(
        lake={"root": lake.root},
        graph={"max_component_size": 4, "generic_login_max_cookies": 3},
    )
    write_partition(
        spark.createDataFrame([("cookie", "s1", "opt", None, None)], OPTOUTS), lake, "optouts", D1
    )
    write_partition(
        spark.createDataFrame(DAY1_COOKIES, COOKIE_FEATURES), lake, "cookie_features", D1
    )
    write_partition(
        spark.createDataFrame(DAY2_COOKIES, COOKIE_FEATURES), lake, "cookie_features", D2
    )
    pairs = [(*p, 0.5, "m1") for p in DAY2_PAIRS]
    write_partition(spark.createDataFrame(pairs, SCORED_PAIRS), lake, "scored_pairs", D2)
    results = [run_graph(spark, settings, D1), run_graph(spark, settings, D2)]
    return lake, results


def _graph(spark, lake, day):  # type: ignore[no-untyped-def]
    return {
        (r.site_id, r.cookie_id): r.asDict()
        for r in read_partition(spark, lake, "identity_graph", day).collect()
    }


def _health(spark, lake, day):  # type: ignore[no-untyped-def]
    rows = read_partition(spark, lake, "health", day).collect()
    assert len(rows) == 1
    return rows[0].asDict(recursive=True)


def test_day1_is_deterministic_only(spark, lake_after_two_days) -> None:  # type: ignore[no-untyped-def]
    lake, (day1, _) = lake_after_two_days
    graph = _graph(spark, lake, D1)
    assert ("s1", "opt") not in graph
    assert len(graph) == 8
    assert graph["s1", "a1"]["unified_id"] == graph["s2", "a2"]["unified_id"]
    assert graph["s1", "a1"]["link_type"] == "deterministic"
    assert graph["s1", "a1"]["confidence"] == 1.0
    # The generic login hash links nobody.
    assert len({graph["s4", f"g{i}"]["unified_id"] for i in range(5)}) == 5
    assert {graph["s4", f"g{i}"]["link_type"] for i in range(5)} == {"singleton"}

    health = _health(spark, lake, D1)
    assert health["deterministic_only"] is True
    assert "deterministic links only" in health["note"]
    assert "deterministic links only" in day1.note
    assert (health["cookies"], health["components"], health["singletons"]) == (8, 7, 6)
    assert (health["generic_login_hashes"], health["generic_login_cookies"]) == (1, 5)
    assert health["gate_passed"] is True
    assert health["gate_failures"] == []
    assert any("churn check skipped" in n for n in health["gate_notes"])
    assert day1.summary["cookies"] == 8 and day1.summary["gate"] == "passed"


def test_day2_splits_the_oversized_component(spark, lake_after_two_days) -> None:  # type: ignore[no-untyped-def]
    lake, _ = lake_after_two_days
    graph = _graph(spark, lake, D2)
    assert ("s1", "opt") not in graph
    p = {c: graph["s3", c] for c in ("p1", "p2", "p3", "p4", "p5", "p6")}
    assert len({p[c]["unified_id"] for c in ("p1", "p2", "p3")}) == 1
    assert len({p[c]["unified_id"] for c in ("p4", "p5", "p6")}) == 1
    assert p["p1"]["unified_id"] != p["p4"]["unified_id"]
    assert {r["component_size"] for r in p.values()} == {3}
    assert {r["link_type"] for r in p.values()} == {"probabilistic"}
    assert {r["confidence"] for r in p.values()} == {0.9}  # the 0.6 edge was dropped
    assert max(r["component_size"] for r in graph.values()) <= 4

    health = _health(spark, lake, D2)
    # The chain (oversized) and the bridge (two logins) were split.
    assert (health["overmerge_components"], health["overmerge_parts"]) == (2, 4)
    assert health["overmerge_deterministic_only"] == 0
    assert health["largest_component"] == 3
    assert health["scored_pairs"] == 10
    assert health["scored_pairs_above_threshold"] == 8  # chain + x + bridge; not g1-g2, opt
    assert health["model_version"] == "m1" and health["deterministic_only"] is False
    assert sum(b["pairs"] for b in health["score_histogram"]) == 10


def test_day2_never_serves_two_logins_as_one_person(spark, lake_after_two_days) -> None:  # type: ignore[no-untyped-def]
    lake, _ = lake_after_two_days
    graph = _graph(spark, lake, D2)
    b1, z, c1 = graph["s5", "b1"], graph["s5", "z"], graph["s6", "c1"]
    assert b1["unified_id"] == z["unified_id"]  # the 0.9 edge survives a raised threshold
    assert c1["unified_id"] != b1["unified_id"]  # the 0.52 one does not
    assert (b1["component_size"], c1["component_size"]) == (2, 1)


def test_day2_ids_are_stable_and_churn_fails_the_gate(spark, lake_after_two_days) -> None:  # type: ignore[no-untyped-def]
    lake, (_, day2) = lake_after_two_days
    before, after = _graph(spark, lake, D1), _graph(spark, lake, D2)
    person_a = before["s1", "a1"]["unified_id"]
    # x merged into person A: the surviving ID is the one with the most cookies.
    assert {after[k]["unified_id"] for k in [("s1", "a1"), ("s2", "a2"), ("s1", "x")]} == {person_a}
    assert after["s1", "x"]["link_type"] == "probabilistic"
    assert after["s1", "x"]["confidence"] == pytest.approx(0.8)
    for i in range(5):
        assert after["s4", f"g{i}"]["unified_id"] == before["s4", f"g{i}"]["unified_id"]

    health = _health(spark, lake, D2)
    assert health["returning_cookies"] == 8 and health["changed_ids"] == 1
    assert health["churn"] == pytest.approx(1 / 8)
    assert health["gate_passed"] is False
    assert len(health["gate_failures"]) == 1 and "ID churn" in health["gate_failures"][0]
    assert day2.summary["gate"].startswith("FAILED")
    assert set(health) == set(HEALTH.fieldNames())
    assert "ID churn" in format_health(health)


def test_explain_names_the_guardrails_of_day2(spark, lake_after_two_days) -> None:  # type: ignore[no-untyped-def]
    from idgraph.explain import explain, render

    lake, _ = lake_after_two_days
    settings = load_settings(
        lake={"root": lake.root},
        graph={"max_component_size": 4, "generic_login_max_cookies": 3},
    )
    graph = _graph(spark, lake, D2)

    # The chain was split at its 0.6 edge: over-merge protection, three steps of 0.05.
    apart = explain(spark, settings, D2, ["s3/p1", "s3/p6"])
    assert apart["linked"] is False and apart["path"] == []
    assert "are NOT linked" in apart["answer"] and "never compared" in apart["answer"]
    assert [(e["from"], e["to"], e["score"], e["status"]) for e in apart["between"]] == [
        ("s3/p3", "s3/p4", 0.6, "cut: over-merge")
    ]
    rails = {c["unified_id"]: {g["kind"]: g for g in c["guardrails"]} for c in apart["components"]}
    left = rails[graph["s3", "p1"]["unified_id"]]
    assert left["over-merge split"]["step"] == 3
    assert left["over-merge split"]["raised_thresholds"] == [0.65]
    assert left["opt-out"]["pairs"] == 1  # s1/opt - s3/p1 at 0.99, dropped; never named
    assert "s1/opt" not in str(left["opt-out"])

    # Inside a part: the path is the kept edges; the scores are the stored ones.
    joined = explain(spark, settings, D2, ["s3/p1", "s3/p3"])
    assert joined["linked"] is True
    assert [(e["from"], e["to"], e["kind"], e["score"]) for e in joined["path"]] == [
        ("s3/p1", "s3/p2", "scored", 0.9),
        ("s3/p2", "s3/p3", "scored", 0.9),
    ]
    # The day's model m1 is in no registry: said, not faked.
    assert (
        joined["model"]["contributions"]
        == "model vm1 is not in the registry: no feature contributions"
    )
    assert all(e["contributions"] is None for e in joined["path"])

    # A login edge and a scored one: the scored edge is the weakest; the hash is truncated.
    person = explain(spark, settings, D2, ["s1/x", "s1/a1"])
    assert [(e["kind"], e.get("login")) for e in person["path"]] == [
        ("scored", None), ("login", "aaaaaaaa…"),
    ]  # fmt: skip
    assert person["weakest"] == 0 and "weakest edge is s1/x - s2/a2" in person["answer"]
    assert LOGIN_A not in str(person)

    # Two logins in one component: the 0.52 bridge to c1 was cut at the first raised step.
    bridge = explain(spark, settings, D2, ["s5/z", "s6/c1"])
    assert bridge["linked"] is False
    assert "over-merge protection cut that edge (scored edges kept from 0.55" in bridge["answer"]

    # A generic login links nobody; an opted-out cookie is said to be so, and nothing more.
    generic = explain(spark, settings, D2, ["s4/g1", "s1/opt"])
    assert generic["linked"] is False and "s1/opt opted out" in generic["answer"]
    assert generic["cookies"][1] == {"cookie": "s1/opt", "status": "opted out"}
    (rail,) = generic["components"][0]["guardrails"]
    assert (rail["kind"], rail["cookies"], rail["login_hash"]) == ("generic login", 5, "ffffffff…")
    unknown = explain(spark, settings, D2, ["s9/nobody"])
    assert "is not in the graph of 2026-03-02" in unknown["answer"]
    from rich.console import Console

    console = Console(width=200, record=True)
    for part in render(apart):
        console.print(part)
    text = console.export_text()
    assert "cut: over-merge" in text and "over-merge split" in text and "opt-out" in text
