"""Pair features: each comparison table-driven on ``_l``/``_r`` values, then the whole table."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import pytest
from pair_world import HOUR0, T0, cookie, random_world
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from spark_jobs.common.schemas import COOKIE_FEATURES, PAIR_KEYS
from spark_jobs.pair_scoring import pair_features as pf
from spark_jobs.pair_scoring.candidates import build_candidates

pytestmark = pytest.mark.spark

_TYPES: dict[str, T.DataType] = {f.name: f.dataType for f in COOKIE_FEATURES.fields}
_TYPES["site_cookies"] = T.LongType()
_TYPES["ua_cookies"] = T.LongType()


def ip(h: str, popularity: int = 2, n_events: int = 5) -> dict[str, Any]:
    return {
        "ip_hash": h,
        "ip_prefix": f"net-{h[0]}",
        "n_events": n_events,
        "ip_popularity": popularity,
    }


def pfx(p: str, n: int = 5) -> dict[str, Any]:
    return {"ip_prefix": p, "n_events": n}


def hr(h: str, hour: int) -> dict[str, Any]:
    return {"ip_hash": h, "hour_bucket": HOUR0 + hour}


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


# (comparison, [(left values, right values, expected)]): values are {column: value}; a column
# missing from one side is null there.
Case = tuple[dict[str, Any], dict[str, Any], float]
CASES: list[tuple[Callable[[], Column], list[Case]]] = [
    (
        pf.ip_shared,
        [
            ({"ips": [ip("a"), ip("b")]}, {"ips": [ip("b"), ip("c")]}, 1.0),
            ({"ips": [ip("a"), ip("b")]}, {"ips": [ip("b"), ip("a")]}, 2.0),
            ({"ips": [ip("a")]}, {"ips": []}, 0.0),
            ({"ips": [ip("a")]}, {}, 0.0),
        ],
    ),
    (
        pf.ip_jaccard,
        [
            ({"ips": [ip("a"), ip("b")]}, {"ips": [ip("b"), ip("c")]}, 1 / 3),
            ({"ips": []}, {"ips": []}, 0.0),
            ({}, {"ips": [ip("a")]}, 0.0),
        ],
    ),
    (
        pf.ip_shared_idf,
        [
            # A home IP of 2 cookies and an office IP of 400: the office adds almost nothing.
            (
                {"ips": [ip("h", 2), ip("o", 400)]},
                {"ips": [ip("h", 2), ip("o", 400)]},
                0.5 + 1 / 400,
            ),
            ({"ips": [ip("o", 400)]}, {"ips": [ip("o", 400)]}, 1 / 400),
            ({"ips": [ip("z", 0)]}, {"ips": [ip("z", 0)]}, 1.0),  # popularity floored at 1
            ({"ips": [ip("a")]}, {"ips": [ip("b")]}, 0.0),
            ({}, {}, 0.0),
        ],
    ),
    (
        pf.ip_shared_max_idf,
        [
            ({"ips": [ip("h", 4), ip("o", 400)]}, {"ips": [ip("o", 400), ip("h", 4)]}, 0.25),
            ({"ips": [ip("a")]}, {"ips": [ip("b")]}, 0.0),
        ],
    ),
    (
        pf.ip_shared_event_share,
        [
            # l: 5 of 10 events on the shared IP; r: 5 of 5.
            ({"ips": [ip("a"), ip("b")]}, {"ips": [ip("a")]}, 0.5),
            ({"ips": [ip("a", n_events=0)]}, {"ips": [ip("a", n_events=0)]}, 0.0),
            ({"ips": []}, {"ips": [ip("a")]}, 0.0),
        ],
    ),
    (
        pf.prefix_shared,
        [
            ({"ip_prefixes": [pfx("p1"), pfx("p2")]}, {"ip_prefixes": [pfx("p2")]}, 1.0),
            ({"ip_prefixes": [pfx("p1")]}, {}, 0.0),
        ],
    ),
    (
        pf.prefix_jaccard,
        [
            ({"ip_prefixes": [pfx("p1"), pfx("p2")]}, {"ip_prefixes": [pfx("p2")]}, 0.5),
            ({"ip_prefixes": []}, {"ip_prefixes": []}, 0.0),
        ],
    ),
    (
        pf.co_hours_same,
        [
            ({"ip_hours": [hr("a", 1), hr("a", 2)]}, {"ip_hours": [hr("a", 2), hr("b", 1)]}, 1.0),
            ({"ip_hours": [hr("a", 1)]}, {"ip_hours": [hr("a", 2)]}, 0.0),
            ({}, {"ip_hours": [hr("a", 2)]}, 0.0),
        ],
    ),
    (
        pf.co_hours_near,
        [
            ({"ip_hours": [hr("a", 1)]}, {"ip_hours": [hr("a", 2)]}, 1.0),
            ({"ip_hours": [hr("a", 1)]}, {"ip_hours": [hr("a", 3)]}, 0.0),
            ({"ip_hours": [hr("a", 1)]}, {"ip_hours": [hr("b", 1)]}, 0.0),
            # One l slot near two r slots: min of the two directions.
            ({"ip_hours": [hr("a", 5)]}, {"ip_hours": [hr("a", 4), hr("a", 6)]}, 1.0),
        ],
    ),
    (
        pf.same_ua_family,
        [
            ({"ua_family": "Chrome"}, {"ua_family": "Chrome"}, 1.0),
            ({"ua_family": "Chrome"}, {"ua_family": "Firefox"}, 0.0),
            ({}, {}, 0.0),
        ],
    ),
    (
        pf.same_os_family,
        [
            ({"os_family": "iOS"}, {"os_family": "iOS"}, 1.0),
            ({"os_family": "iOS"}, {}, 0.0),
        ],
    ),
    (
        pf.same_device_type,
        [
            ({"device_type": "mobile"}, {"device_type": "mobile"}, 1.0),
            ({"device_type": "mobile"}, {"device_type": "desktop"}, 0.0),
        ],
    ),
    (
        pf.ua_major_distance,
        [
            (
                {"ua_family": "Chrome", "ua_major": 120},
                {"ua_family": "Chrome", "ua_major": 118},
                2.0,
            ),
            (
                {"ua_family": "Chrome", "ua_major": 120},
                {"ua_family": "Chrome", "ua_major": 120},
                0.0,
            ),
            (
                {"ua_family": "Chrome", "ua_major": 120},
                {"ua_family": "Safari", "ua_major": 17},
                -1.0,
            ),
            ({"ua_family": "Chrome", "ua_major": 120}, {"ua_family": "Chrome"}, -1.0),
        ],
    ),
    (
        pf.same_ua_exact,
        [
            ({"ua_hash": "00aa11bb22cc33dd"}, {"ua_hash": "00aa11bb22cc33dd"}, 1.0),
            ({"ua_hash": "00aa11bb22cc33dd"}, {"ua_hash": "99aa11bb22cc33dd"}, 0.0),
            ({"ua_hash": "00aa11bb22cc33dd"}, {}, 0.0),
        ],
    ),
    (
        pf.same_ua_log_cookies,
        [
            (
                {"ua_hash": "00aa11bb22cc33dd", "ua_cookies": 9},
                {"ua_hash": "00aa11bb22cc33dd", "ua_cookies": 9},
                math.log(10),
            ),
            (
                {"ua_hash": "00aa11bb22cc33dd", "ua_cookies": 9},
                {"ua_hash": "99aa11bb22cc33dd", "ua_cookies": 4},
                -1.0,
            ),
            ({}, {}, -1.0),
        ],
    ),
    (
        pf.same_country,
        [
            ({"country": "FR"}, {"country": "FR"}, 1.0),
            ({"country": "FR"}, {"country": "DE"}, 0.0),
        ],
    ),
    (
        pf.same_city,
        [
            ({"country": "FR", "city": "Paris"}, {"country": "FR", "city": "Paris"}, 1.0),
            ({"country": "FR", "city": "Paris"}, {"country": "US", "city": "Paris"}, 0.0),
            ({"country": "FR", "city": "Paris"}, {"country": "FR"}, 0.0),
        ],
    ),
    (
        pf.hour_profile_cosine,
        [
            (
                {"hour_profile": [0.5, 0.5] + [0.0] * 22},
                {"hour_profile": [0.5, 0.5] + [0.0] * 22},
                1.0,
            ),
            ({"hour_profile": [1.0] + [0.0] * 23}, {"hour_profile": [0.0, 1.0] + [0.0] * 22}, 0.0),
            (
                {"hour_profile": [1.0, 1.0] + [0.0] * 22},
                {"hour_profile": [1.0] + [0.0] * 23},
                1 / math.sqrt(2),
            ),
            ({"hour_profile": [0.0] * 24}, {"hour_profile": [1.0] + [0.0] * 23}, 0.0),
            ({}, {"hour_profile": [1.0] + [0.0] * 23}, 0.0),
        ],
    ),
    (
        pf.query_terms_jaccard,
        [
            ({"query_terms": ["a", "b", "c"]}, {"query_terms": ["b", "c", "d"]}, 0.5),
            ({"query_terms": []}, {"query_terms": []}, 0.0),
            ({"query_terms": ["a"]}, {}, 0.0),
        ],
    ),
    (
        pf.query_terms_shared,
        [
            ({"query_terms": ["a", "b", "c"]}, {"query_terms": ["b", "c", "d"]}, 2.0),
        ],
    ),
    (
        pf.topics_jaccard,
        [
            ({"topics": ["news", "sport"]}, {"topics": ["sport"]}, 0.5),
            ({"topics": ["news"]}, {"topics": ["cars"]}, 0.0),
        ],
    ),
    (
        pf.log_events_min,
        [
            ({"n_events": 9}, {"n_events": 99}, math.log(10)),
            ({"n_events": 9}, {}, 0.0),
        ],
    ),
    (pf.log_events_max, [({"n_events": 9}, {"n_events": 99}, math.log(100))]),
    (
        pf.events_ratio,
        [
            ({"n_events": 10}, {"n_events": 40}, 0.25),
            ({"n_events": 0}, {"n_events": 0}, 0.0),
        ],
    ),
    (pf.active_days_min, [({"n_active_days": 3}, {"n_active_days": 7}, 3.0)]),
    (pf.active_days_max, [({"n_active_days": 3}, {"n_active_days": 7}, 7.0)]),
    (
        pf.seen_overlap_days,
        [
            (
                {"first_seen": day(0), "last_seen": day(10)},
                {"first_seen": day(4), "last_seen": day(20)},
                6.0,
            ),
            (
                {"first_seen": day(0), "last_seen": day(6)},
                {"first_seen": day(7), "last_seen": day(9)},
                0.0,
            ),
            ({"first_seen": day(0)}, {"first_seen": day(4), "last_seen": day(20)}, 0.0),
        ],
    ),
    (
        pf.seen_gap_days,
        [
            # A reset cookie: the new one starts a day after the old one's last visit.
            (
                {"first_seen": day(0), "last_seen": day(6)},
                {"first_seen": day(7), "last_seen": day(9)},
                1.0,
            ),
            (
                {"first_seen": day(7), "last_seen": day(9)},
                {"first_seen": day(0), "last_seen": day(6.5)},
                0.5,
            ),
            (
                {"first_seen": day(0), "last_seen": day(10)},
                {"first_seen": day(4), "last_seen": day(20)},
                0.0,
            ),
        ],
    ),
    (
        pf.seen_overlap_share,
        [
            (
                {"first_seen": day(0), "last_seen": day(10)},
                {"first_seen": day(4), "last_seen": day(8)},
                1.0,
            ),
            (
                {"first_seen": day(0), "last_seen": day(10)},
                {"first_seen": day(5), "last_seen": day(25)},
                0.5,
            ),
            (
                {"first_seen": day(1), "last_seen": day(1)},
                {"first_seen": day(1), "last_seen": day(1)},
                0.0,
            ),  # zero-length lives: no share
        ],
    ),
    (
        pf.same_site,
        [
            ({"site_id": "s1"}, {"site_id": "s1"}, 1.0),
            ({"site_id": "s1"}, {"site_id": "s2"}, 0.0),
        ],
    ),
    (pf.site_cookies_log_min, [({"site_cookies": 9}, {"site_cookies": 999}, math.log(10))]),
    (pf.site_cookies_log_max, [({"site_cookies": 9}, {"site_cookies": 999}, math.log(1000))]),
]


@pytest.fixture(scope="module")
def evaluated(spark) -> dict[tuple[str, int, bool], float]:  # type: ignore[no-untyped-def]
    """Every comparison on its own cases and on the cases with sides swapped, in one job."""
    names = sorted({n for _, cases in CASES for left, right, _ in cases for n in (*left, *right)})
    schema = T.StructType(
        [T.StructField(k, T.StringType()) for k in ("fn",)]
        + [T.StructField("case", T.IntegerType()), T.StructField("swapped", T.BooleanType())]
        + [
            T.StructField(f"{n}{s}", _TYPES.get(n, T.StringType()))
            for n in names
            for s in ("_l", "_r")
        ]
    )
    rows = []
    for fn, cases in CASES:
        for i, (left, right, _) in enumerate(cases):
            for swapped in (False, True):
                a, b = (right, left) if swapped else (left, right)
                rows.append(
                    {
                        "fn": fn.__name__,
                        "case": i,
                        "swapped": swapped,
                        **{f"{n}_l": a.get(n) for n in names},
                        **{f"{n}_r": b.get(n) for n in names},
                    }
                )
    df = spark.createDataFrame(rows, schema)
    value = F.lit(None).cast("double")
    for fn, _ in CASES:
        value = F.when(F.col("fn") == fn.__name__, fn()).otherwise(value)
    every = df.select(*(fn().alias(fn.__name__) for fn, _ in CASES)).schema  # analysis only
    assert {f.name for f in every.fields if f.dataType != T.DoubleType()} == set()
    return {
        (r.fn, r.case, r.swapped): r.v
        for r in df.select("fn", "case", "swapped", value.alias("v")).collect()
    }


@pytest.mark.parametrize(("fn", "cases"), CASES, ids=[fn.__name__ for fn, _ in CASES])
def test_comparison(evaluated, fn: Callable[[], Column], cases: list[Case]) -> None:  # type: ignore[no-untyped-def]
    got = [evaluated[fn.__name__, i, False] for i in range(len(cases))]
    assert got == pytest.approx([expected for _, _, expected in cases])
    # Symmetric: which cookie is "left" is only an ordering of ids.
    swapped = [evaluated[fn.__name__, i, True] for i in range(len(cases))]
    assert swapped == pytest.approx(got)


def test_site_pair_bucket_is_symmetric_bounded_and_spreads(spark) -> None:  # type: ignore[no-untyped-def]
    sites = [f"site-{i}" for i in range(20)]
    df = spark.createDataFrame(
        [(a, b) for a in sites for b in sites], "site_id_l string, site_id_r string"
    )
    rows = df.select("site_id_l", "site_id_r", pf.site_pair_bucket(16).alias("b")).collect()
    bucket = {(r.site_id_l, r.site_id_r): r.b for r in rows}
    assert all(bucket[a, b] == bucket[b, a] for a in sites for b in sites)
    assert set(bucket.values()) <= {float(x) for x in range(16)}
    assert len(set(bucket.values())) >= 12  # 210 site pairs spread over the 16 buckets


# Session features read the pair's own evidence columns (no sides): (evidence, expected).
NO_HOP = {"hops_30s": 0, "hops_120s": 0, "hops_300s": 0, "quiet_hops_300s": 0, "hop_days": 0}
HOPPED = {"hops_30s": 2, "hops_120s": 3, "hops_300s": 4, "quiet_hops_300s": 1, "hop_days": 2}
SESSION_CASES: list[tuple[Callable[[], Column], list[tuple[dict[str, int], float]]]] = [
    (pf.session_hops, [(HOPPED, math.log(5)), (NO_HOP, 0.0)]),
    (pf.session_hops_fast, [(HOPPED, math.log(3)), (NO_HOP, 0.0)]),
    (pf.session_quiet_hops, [(HOPPED, math.log(2)), (NO_HOP, 0.0)]),
    (pf.session_hop_days, [(HOPPED, 2.0), (NO_HOP, 0.0)]),
    (
        pf.session_hop_closeness,
        [
            (HOPPED | {"hop_min_gap_s": 60}, 0.5),
            (HOPPED | {"hop_min_gap_s": 0}, 1.0),
            (NO_HOP, 0.0),
        ],
    ),
    (pf.quiet_ip_codays, [({"quiet_codays": 3}, 3.0), ({}, 0.0)]),
    (
        pf.candidate_rank_inverse,
        [({"evidence_rank": 1}, 1.0), ({"evidence_rank": 4}, 0.25), ({}, 0.0)],
    ),
    (pf.candidate_weight_share, [({"evidence_share": 0.75}, 0.75), ({}, 0.0)]),
]


@pytest.mark.parametrize(
    ("fn", "cases"), SESSION_CASES, ids=[fn.__name__ for fn, _ in SESSION_CASES]
)
def test_session_comparison(spark, fn, cases) -> None:  # type: ignore[no-untyped-def]
    from spark_jobs.pair_scoring.session_evidence import with_evidence

    rows = [(i, *(case.get(c) for c in EVIDENCE)) for i, (case, _) in enumerate(cases)]
    schema = ", ".join(["i int", *(f"{c} {EVIDENCE[c]}" for c in EVIDENCE)])
    df = with_evidence(spark.createDataFrame(rows, schema))
    got = [r.v for r in df.orderBy("i").select(fn().cast("double").alias("v")).collect()]
    assert got == pytest.approx([expected for _, expected in cases])


EVIDENCE = {
    "hops_30s": "long",
    "hops_120s": "long",
    "hops_300s": "long",
    "quiet_hops_300s": "long",
    "hop_days": "long",
    "hop_min_gap_s": "long",
    "quiet_codays": "long",
    "evidence_rank": "long",
    "evidence_share": "double",
}


def test_every_comparison_has_table_cases() -> None:
    tested = {fn.__name__ for fn, _ in CASES} | {"site_pair_bucket"}
    tested |= {fn.__name__ for fn, _ in SESSION_CASES}
    assert tested == set(pf.FEATURE_COLUMNS)


@pytest.fixture(scope="module")
def world(spark):  # type: ignore[no-untyped-def]
    """Features of a seeded world and its candidate pairs, computed once for the module."""
    rows = random_world(3, people=25)
    # A cookie with every optional field missing must still get defaults, never nulls.
    rows.append(
        {
            **cookie("site0", "bare", ips=["h0.1"]),
            "ua_family": None,
            "ua_major": None,
            "os_family": None,
            "device_type": None,
            "country": None,
            "city": None,
            "hour_profile": None,
            "query_terms": None,
            "topics": None,
            "ip_hours": None,
            "first_seen": None,
            "last_seen": None,
            "n_events": None,
        }
    )
    features = spark.createDataFrame(rows, COOKIE_FEATURES).localCheckpoint()
    pairs = build_candidates(features, max_block_size=50).localCheckpoint()
    return features, pairs


def test_pair_features_are_doubles_never_null_and_keep_pair_columns(world) -> None:  # type: ignore[no-untyped-def]
    features, pairs = world
    out = pf.build_pair_features(pairs, features)

    assert out.columns[:4] == PAIR_KEYS
    assert "blocking_keys" in out.columns
    assert all(out.schema[c].dataType == T.DoubleType() for c in pf.FEATURE_COLUMNS)
    figures = (
        out.select(
            F.count("*").alias("rows"),
            F.sum(F.expr("cookie_id_l = 'bare' or cookie_id_r = 'bare'").cast("int")).alias("bare"),
            *(F.sum(F.col(c).isNull().cast("int")).alias(c) for c in pf.FEATURE_COLUMNS),
        )
        .first()
        .asDict()
    )
    assert figures.pop("rows") == pairs.count()
    assert figures.pop("bare") > 0
    assert figures == dict.fromkeys(pf.FEATURE_COLUMNS, 0)


def test_login_hash_never_reaches_a_feature(world) -> None:  # type: ignore[no-untyped-def]
    assert not any("login" in c for c in pf.FEATURE_COLUMNS)
    features, pairs = world
    relabelled = features.withColumn(
        "login_hash", F.when(F.rand(seed=5) < 0.5, F.sha2(F.col("cookie_id"), 256))
    )
    assertDataFrameEqual(
        pf.build_pair_features(pairs, features), pf.build_pair_features(pairs, relabelled)
    )


def test_model_features_leave_out_the_excluded_and_refuse_unknown_names():
    kept = pf.model_features(["same_site", "events_ratio"])
    assert kept == [c for c in pf.FEATURE_COLUMNS if c not in ("same_site", "events_ratio")]
    assert pf.model_features() == pf.FEATURE_COLUMNS
    with pytest.raises(ValueError, match="no_such_feature"):
        pf.model_features(["no_such_feature"])


def test_monotone_constraints_mark_evidence_features_only():
    assert pf.EVIDENCE_FEATURES <= set(pf.FEATURE_COLUMNS)
    assert pf.monotone_constraints(["ip_shared", "events_ratio", "same_ua_exact"]) == "(1,0,1)"
