"""The household edge rule, table-driven, and household IDs across two days.

Every case is its own little world (its own network and persons) in one DataFrame, so one
Spark run answers all of them. A person has one cookie unless said otherwise; ``filler``
cookies only use the network (one day each), to make it busy.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spark_jobs.graph.households import build_households
from spark_jobs.graph.stable_ids import assign_household_ids

pytestmark = [pytest.mark.spark]

MIN_DAYS, MIN_WEEKEND_SHARE, MAX_NETWORK_COOKIES, MAX_HOUSEHOLD_COOKIES = 3, 0.1, 10, 4

# name: (days and weekend days of person a, of person b, filler cookies, joined?)
CASES: dict[str, tuple[tuple[int, int], tuple[int, int], int, bool]] = {
    "home, evenings and weekends": ((9, 3), (7, 2), 0, True),
    "home, both at the minimum days": ((3, 1), (3, 1), 0, True),
    "office, weekdays only": ((15, 0), (12, 0), 0, False),
    "office, a little weekend work": ((15, 1), (12, 0), 0, False),  # 1/27 < 0.1
    "cgnat pool, busy": ((9, 3), (7, 2), 9, False),  # 11 cookies > 10
    "home at the cookie cap": ((9, 3), (7, 2), 8, True),  # 10 cookies
    "a visitor, too few days": ((9, 3), (2, 1), 0, False),
    "a cafe: many cookies, one day each": ((3, 1), (3, 1), 20, False),
}


def _features_row(site: str, cookie: str, networks: list[tuple[str, int, int]]) -> dict[str, Any]:
    return {
        "site_id": site,
        "cookie_id": cookie,
        "home_networks": [
            {"network": n, "n_days": d, "weekend_days": w, "n_events": 10 * d}
            for n, d, w in networks
        ],
    }


SCHEMA = (
    "site_id string, cookie_id string, home_networks array<struct<network:string, "
    "n_days:long, weekend_days:long, n_events:long>>"
)


def _world(spark):  # type: ignore[no-untyped-def]
    features, persons = [], []
    person = 0
    for i, (name, (a, b, filler, _)) in enumerate(CASES.items()):
        net = f"v4:net{i}"
        for side, (days, weekend) in (("a", a), ("b", b)):
            person += 1
            features.append(_features_row("s", f"{name}/{side}", [(net, days, weekend)]))
            persons.append(("s", f"{name}/{side}", person))
        for f in range(filler):
            person += 1
            features.append(_features_row("s", f"{name}/filler{f}", [(net, 1, 1)]))
            persons.append(("s", f"{name}/filler{f}", person))
    # Too big: two persons of 3 and 2 cookies on one home, over the household cap of 4.
    for p, cookies in ((1001, 3), (1002, 2)):
        for c in range(cookies):
            features.append(_features_row("t", f"big{p}/{c}", [("v6:2a01:db8:7::/48", 9, 3)]))
            persons.append(("t", f"big{p}/{c}", p))
    # No evidence at all: a household alone.
    features.append(_features_row("t", "loner", []))
    persons.append(("t", "loner", 2000))
    return (
        spark.createDataFrame(persons, "site_id string, cookie_id string, person long"),
        spark.createDataFrame(features, SCHEMA),
    )


def _build(persons, features, **overrides):  # type: ignore[no-untyped-def]
    """``build_households`` with this module's rule figures, ``overrides`` on top."""
    kwargs: dict[str, Any] = {
        "min_days": MIN_DAYS,
        "min_weekend_share": MIN_WEEKEND_SHARE,
        "max_network_cookies": MAX_NETWORK_COOKIES,
        "max_household_cookies": MAX_HOUSEHOLD_COOKIES,
        "cc_options": {"implementation": "dataframe"},
    }
    return build_households(persons, features, **(kwargs | overrides))


@pytest.fixture(scope="module")
def built(spark):  # type: ignore[no-untyped-def]
    persons, features = _world(spark)
    result = _build(persons, features)
    rows = {(r.site_id, r.cookie_id): r.asDict() for r in result.households.collect()}
    return result, rows


@pytest.mark.parametrize("name", list(CASES))
def test_household_edge_rule(built, name: str) -> None:  # type: ignore[no-untyped-def]
    _, rows = built
    a, b = rows["s", f"{name}/a"], rows["s", f"{name}/b"]
    joined = CASES[name][3]
    assert (a["household"] == b["household"]) is joined
    assert a["household_persons"] == (2 if joined else 1)
    assert a["household_size"] == (2 if joined else 1)


def test_busy_networks_are_skipped_and_counted(built) -> None:  # type: ignore[no-untyped-def]
    result, rows = built
    # "cgnat pool" (11 cookies) and "a cafe" (22 cookies) are over the cap of 10.
    assert result.skipped_networks == 2
    assert result.skipped_cookies == 11 + 22
    assert result.evidence is True
    # joining networks: the three homes of CASES and the oversized one
    assert result.networks == sum(joined for *_, joined in CASES.values()) + 1
    assert len(rows) == sum(2 + c[2] for c in CASES.values()) + 5 + 1


def test_oversized_household_is_dissolved_into_its_persons(built) -> None:  # type: ignore[no-untyped-def]
    result, rows = built
    assert result.dissolved == 1
    big = [rows["t", f"big1001/{c}"] for c in range(3)]
    assert {r["household"] for r in big} == {1001}
    assert {r["household_size"] for r in big} == {3}
    assert rows["t", "big1002/0"]["household"] == 1002
    assert rows["t", "loner"]["household"] == 2000
    assert rows["t", "loner"]["household_persons"] == 1


def test_household_label_is_its_smallest_person(built) -> None:  # type: ignore[no-untyped-def]
    _, rows = built
    a, b = rows["s", "home, evenings and weekends/a"], rows["s", "home, evenings and weekends/b"]
    assert a["household"] == min(a["household"], b["household"]) == 1


def test_without_home_networks_every_person_is_alone(spark) -> None:  # type: ignore[no-untyped-def]
    persons = spark.createDataFrame(
        [("s", "x", 1), ("s", "y", 1), ("s", "z", 2)],
        "site_id string, cookie_id string, person long",
    )
    result = _build(persons, persons.select("site_id", "cookie_id"))
    rows = {r.cookie_id: (r.household, r.household_size) for r in result.households.collect()}
    assert rows == {"x": (1, 2), "y": (1, 2), "z": (2, 1)}
    assert result.evidence is False


D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
TODAY = "site_id string, cookie_id string, household long, household_size long"


def test_household_ids_are_stable_across_two_days(spark) -> None:  # type: ignore[no-untyped-def]
    day1 = spark.createDataFrame(
        [("s", "a", 10, 2), ("s", "b", 10, 2), ("s", "c", 20, 1), ("s", "d", 30, 1)], TODAY
    )
    first = {r.cookie_id: r.asDict() for r in assign_household_ids(day1, None, day=D1).collect()}
    assert first["a"]["household_id"] == first["b"]["household_id"]
    assert len({r["household_id"] for r in first.values()}) == 3
    assert all(
        r["household_id"].startswith("h") and len(r["household_id"]) == 13 for r in first.values()
    )
    assert not any(r["household_inherited"] for r in first.values())
    yesterday = spark.createDataFrame(
        [(k, r["household_id"]) for k, r in first.items()], "cookie_id string, household_id string"
    ).selectExpr("'s' as site_id", "cookie_id", "household_id")
    # Day 2: labels change (another smallest person), c joins a+b, d leaves, e is new.
    day2 = spark.createDataFrame(
        [("s", "a", 7, 3), ("s", "b", 7, 3), ("s", "c", 7, 3), ("s", "e", 40, 1)], TODAY
    )
    second = {
        r.cookie_id: r.asDict() for r in assign_household_ids(day2, yesterday, day=D2).collect()
    }
    assert second["a"]["household_id"] == first["a"]["household_id"]
    assert second["c"]["household_id"] == first["a"]["household_id"]
    assert second["a"]["household_inherited"] is True
    assert second["e"]["household_id"] not in {r["household_id"] for r in first.values()}
    assert second["e"]["household_inherited"] is False
    # A re-run of the day gives the same IDs.
    again = {
        r.cookie_id: r.household_id for r in assign_household_ids(day2, yesterday, day=D2).collect()
    }
    assert again == {k: r["household_id"] for k, r in second.items()}


AGENT_SCHEMA = (
    "site_id string, cookie_id string, ua_hash string, home_networks array<struct<"
    "network:string, n_days:long, weekend_days:long, n_events:long>>"
)


def _agent_world(spark):  # type: ignore[no-untyped-def]
    """Three little worlds for the rules that keep a household to one home:

    - ``visit``: b's third most-used network is a's home (b lives elsewhere, visits often);
    - ``busy``: a and b share a network that twelve browsers use (an office open at weekends);
    - ``chain``: persons c0..c5 in a row, each pair sharing its own home (five networks), and
      persons k0..k3 the same with three networks.
    """
    rows: list[tuple[str, str, str, list[tuple[str, int, int]]]] = [
        ("visit", "a", "ua-a", [("n4:visit-home", 9, 3)]),
        (
            "visit",
            "b",
            "ua-b",
            [("n4:b-home", 20, 6), ("n6:b-home", 15, 4), ("n4:visit-home", 4, 1)],
        ),
        ("busy", "a", "ua-1", [("n4:busy", 9, 3)]),
        ("busy", "b", "ua-2", [("n4:busy", 8, 2)]),
        *[("busy", f"f{i}", f"ua-f{i}", [("n4:busy", 1, 1)]) for i in range(10)],
    ]
    for name, n in (("c", 6), ("k", 4)):
        for i in range(n):
            nets = [(f"n4:{name}{j}", 9, 3) for j in (i - 1, i) if 0 <= j < n - 1]
            rows.append(("chain", f"{name}{i}", f"ua-{name}{i}", nets))
    features = [
        {
            "site_id": site,
            "cookie_id": cookie,
            "ua_hash": ua,
            "home_networks": [
                {"network": net, "n_days": d, "weekend_days": w, "n_events": 10 * d}
                for net, d, w in nets
            ],
        }
        for site, cookie, ua, nets in rows
    ]
    persons = [(site, cookie, i) for i, (site, cookie, _, _) in enumerate(rows, start=1)]
    return (
        spark.createDataFrame(persons, "site_id string, cookie_id string, person long"),
        spark.createDataFrame(features, AGENT_SCHEMA),
    )


@pytest.mark.parametrize(
    ("rank", "agents", "networks", "visit", "busy", "long_chain", "short_chain"),
    [
        (0, 0, 0, True, True, True, True),  # every rule off: everything joins
        (2, 0, 0, False, True, True, True),  # a third network makes no member
        (0, 8, 0, True, False, True, True),  # twelve browsers are not a home
        (0, 0, 4, True, True, False, True),  # five homes in a row are a chain, not a home
        (2, 8, 4, False, False, False, True),  # the defaults' shape
    ],
)
def test_a_household_is_one_home(  # type: ignore[no-untyped-def]
    spark, rank, agents, networks, visit, busy, long_chain, short_chain
) -> None:
    persons, features = _agent_world(spark)
    result = _build(
        persons,
        features,
        max_network_cookies=100,
        max_household_cookies=100,
        max_network_agents=agents,
        max_network_rank=rank,
        max_household_networks=networks,
    )
    hh = {(r.site_id, r.cookie_id): r.household for r in result.households.collect()}
    assert (hh["visit", "a"] == hh["visit", "b"]) is visit
    assert (hh["busy", "a"] == hh["busy", "b"]) is busy
    assert (len({hh["chain", f"c{i}"] for i in range(6)}) == 1) is long_chain
    if not long_chain:  # dissolved: every person alone, and counted
        assert len({hh["chain", f"c{i}"] for i in range(6)}) == 6
        assert result.dissolved == 1
    assert (len({hh["chain", f"k{i}"] for i in range(4)}) == 1) is short_chain
