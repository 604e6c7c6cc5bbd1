"""Stable unified IDs across two days, and generic login hashes (Spark, tiny frames)."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from spark_jobs.graph.edges import (
    cookie_key,
    deterministic_edges,
    generic_logins,
    probabilistic_edges,
    salted_ids,
    vertex_keys,
)
from spark_jobs.graph.stable_ids import assign_unified_ids

pytestmark = pytest.mark.spark

DAY = dt.date(2026, 3, 2)

# Yesterday: person -> cookies (all on site s).
YESTERDAY = {
    "U1": "abc",  # merges with U2 today: U1 has more cookies, it survives
    "U2": "d",
    "U3": "ef",  # splits 1/1 today: the larger part ({f, k}) keeps it
    "U4": "gh",  # unchanged
    "U5": "i",  # U5 and U6 merge with equal overlap and size: the smaller ID wins
    "U6": "j",
}
# Today: component label -> cookies.
TODAY = {10: "abcd", 20: "e", 21: "fk", 30: "gh", 40: "n", 50: "ij"}


def _today(spark):  # type: ignore[no-untyped-def]
    rows = [("s", c, comp, len(cs)) for comp, cs in TODAY.items() for c in cs]
    return spark.createDataFrame(
        rows, "site_id string, cookie_id string, component long, component_size long"
    )


def _yesterday(spark):  # type: ignore[no-untyped-def]
    rows = [("s", c, uid) for uid, cs in YESTERDAY.items() for c in cs]
    return spark.createDataFrame(rows, "site_id string, cookie_id string, unified_id string")


def test_ids_follow_merges_and_splits(spark) -> None:  # type: ignore[no-untyped-def]
    got = assign_unified_ids(_today(spark), _yesterday(spark), day=DAY)
    by_comp = {r.component: (r.unified_id, r.id_inherited) for r in got.collect()}
    assert by_comp[10] == ("U1", True)  # merge: the ID with the most cookies survives
    assert by_comp[21] == ("U3", True)  # split: the larger part keeps the ID
    assert by_comp[30] == ("U4", True)  # unchanged
    assert by_comp[50] == ("U5", True)  # tie on overlap and size: smaller ID
    for new in (20, 40):  # lost the split / brand new
        assert by_comp[new][1] is False and by_comp[new][0].startswith("u")
    assert len({uid for uid, _ in by_comp.values()}) == len(TODAY)  # an ID is never shared


def test_new_ids_are_reproducible_and_depend_on_the_day(spark) -> None:  # type: ignore[no-untyped-def]
    def ids(day: dt.date) -> dict[int, str]:
        rows = assign_unified_ids(_today(spark), None, day=day).collect()
        return {r.component: r.unified_id for r in rows}

    first = ids(DAY)
    assert first == ids(DAY)
    assert len(set(first.values())) == len(TODAY)
    assert set(first.values()).isdisjoint(ids(DAY + dt.timedelta(days=1)).values())


def test_second_choice_is_inherited_when_first_is_taken(spark) -> None:  # type: ignore[no-untyped-def]
    # Component 1 = {a,b,c,x}: prefers U1 (3 shared). Component 2 = {d, y}: shares d with U1
    # and y with U2; U1 goes to component 1, so component 2 inherits U2 in round two.
    today = spark.createDataFrame(
        [("s", c, 1, 4) for c in "abcx"] + [("s", c, 2, 2) for c in "dy"],
        "site_id string, cookie_id string, component long, component_size long",
    )
    yesterday = spark.createDataFrame(
        [("s", c, "U1") for c in "abcd"] + [("s", "y", "U2"), ("s", "z", "U2")],
        "site_id string, cookie_id string, unified_id string",
    )
    got = {
        r.component: r.unified_id for r in assign_unified_ids(today, yesterday, day=DAY).collect()
    }
    assert got == {1: "U1", 2: "U2"}


def test_generic_login_hashes_are_excluded(spark) -> None:  # type: ignore[no-untyped-def]
    rows = (
        [("s1", f"k{i}", "kiosk", "desktop", "Windows", "Chrome") for i in range(6)]  # too many
        + [("s2", f"t{i}", "tester", d, "Linux", "Firefox") for i, d in enumerate("abc")]
        + [
            ("s1", "p1", "person", "mobile", "iOS", "Safari"),
            ("s2", "p2", "person", "mobile", "iOS", "Safari"),
        ]
        + [("s3", "n1", None, None, None, None)]
    )
    cookies = spark.createDataFrame(
        rows,
        "site_id string, cookie_id string, login_hash string, device_type string, "
        "os_family string, ua_family string",
    )
    generic = generic_logins(cookies, max_cookies=5, max_devices=2)
    assert {(r.login_hash, r.n_cookies, r.n_devices) for r in generic.collect()} == {
        ("kiosk", 6, 1),  # 6 cookies > 5
        ("tester", 3, 3),  # 3 device combinations > 2
    }
    edges = deterministic_edges(cookies, generic)
    assert sorted(r.login_hash for r in edges.collect()) == ["person", "person"]
    keys = vertex_keys(cookies)
    assert keys.count() == 6 + 3 + 2 + 1 + 3  # cookies and login hashes
    assert salted_ids(keys).count() == 0  # no collisions among 15 keys


def test_scored_edges_never_join_two_different_logins(spark) -> None:  # type: ignore[no-untyped-def]
    cookies = spark.createDataFrame(
        [
            ("s1", "a", "alice"),
            ("s2", "b", "bob"),
            ("s3", "c", None),
            ("s1", "k", "kiosk"),  # generic: no evidence either way
            ("s2", "a2", "alice"),
        ],
        "site_id string, cookie_id string, login_hash string",
    )
    generic = spark.createDataFrame([("kiosk",)], "login_hash string")
    pairs = [
        ("s1", "a", "s2", "b", 0.99),  # alice - bob: dropped
        ("s1", "a", "s3", "c", 0.99),  # logged in - anonymous: kept
        ("s1", "a", "s1", "k", 0.99),  # alice - generic: kept
        ("s1", "a", "s2", "a2", 0.99),  # the same login: kept
        ("s2", "b", "s3", "c", 0.10),  # below the threshold: dropped
        ("s2", "b", "s9", "gone", 0.99),  # a cookie not in today's graph: dropped
    ]
    scored = spark.createDataFrame(
        [(*p, 0.9) for p in pairs],
        "site_id_l string, cookie_id_l string, site_id_r string, cookie_id_r string, "
        "score double, threshold double",
    )
    names = {
        r.id: r.cookie_id
        for r in cookies.select(
            "cookie_id", F.xxhash64(cookie_key("site_id", "cookie_id")).alias("id")
        ).collect()
    }
    edges = probabilistic_edges(scored, cookies, None, generic).collect()
    got = sorted(tuple(sorted((names[e.src], names[e.dst]))) for e in edges)
    assert got == [("a", "a2"), ("a", "c"), ("a", "k")]
    without_generic = probabilistic_edges(scored, cookies, None, None).count()
    assert without_generic == 2  # the kiosk hash counts as a login when not known generic


def test_colliding_ids_are_salted(spark) -> None:  # type: ignore[no-untyped-def]
    keys = spark.createDataFrame([("a", 5), ("b", 5), ("c", 6)], "key string, id long")
    salted = salted_ids(keys).collect()
    assert [r.key for r in salted] == ["b"]  # the smallest key keeps the id
    assert salted[0].salted_id not in (5, 6)
