"""``optouts.people_of``: the rows that keep an opt-out's whole people out of later graphs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spark_jobs.common.optouts import OPTOUTS, people_of

pytestmark = pytest.mark.spark
T0 = dt.datetime(2026, 3, 2, 9, 0)
T1 = T0 + dt.timedelta(hours=1)
OWN, SHARED, OTHER = "a" * 64, "5" * 64, "e" * 64
GRAPH = [  # person u_p: p1 p2 p3; person u_q: q1 q2; u_r alone
    ("s1", "p1", "u_p"),
    ("s2", "p2", "u_p"),
    ("s3", "p3", "u_p"),
    ("s1", "q1", "u_q"),
    ("s2", "q2", "u_q"),
    ("s1", "r1", "u_r"),
]
LOGINS = [
    ("s1", "p1", OWN),
    ("s2", "p2", OWN),
    ("s3", "p3", SHARED),  # also carried by q1, another person
    ("s1", "q1", SHARED),
    ("s2", "q2", OTHER),
    ("s1", "r1", None),
]


def _expand(spark: Any, requests: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    out = people_of(
        spark.createDataFrame(requests, OPTOUTS),
        spark.createDataFrame(GRAPH, "site_id string, cookie_id string, unified_id string"),
        spark.createDataFrame(LOGINS, "site_id string, cookie_id string, login_hash string"),
    )
    return {tuple(r) for r in out.collect()}


def test_a_cookie_brings_its_person_and_the_logins_only_they_carried(spark: Any) -> None:
    rows = _expand(spark, [("cookie", "s2", "p2", None, T0)])
    assert rows == {
        ("cookie", "s1", "p1", None, T0),
        ("cookie", "s2", "p2", None, T0),
        ("cookie", "s3", "p3", None, T0),
        ("login_hash", None, None, OWN, T0),  # SHARED is q1's too: q stays
    }


def test_a_login_brings_every_person_it_touches(spark: Any) -> None:
    rows = _expand(
        spark, [("login_hash", None, None, SHARED, T1), ("cookie", "s1", "p1", None, T0)]
    )
    cookies = {(r[1], r[2], r[4]) for r in rows if r[0] == "cookie"}
    assert cookies == {
        ("s1", "p1", T0),  # the earliest request that brought it in
        ("s2", "p2", T0),
        ("s3", "p3", T0),
        ("s1", "q1", T1),
        ("s2", "q2", T1),
    }
    assert {(r[3], r[4]) for r in rows if r[0] == "login_hash"} == {
        (SHARED, T0),  # asked for at T1, and p3's (taken out at T0) with q gone too
        (OWN, T0),
        (OTHER, T1),
    }


def test_an_unknown_cookie_is_recorded_as_asked(spark: Any) -> None:
    assert _expand(spark, [("cookie", "s9", "nobody", None, T0)]) == {
        ("cookie", "s9", "nobody", None, T0)
    }
