"""Feature functions on tiny VISITS frames: one behaviour per table-driven case, plus a
differential test of the daily-aggregate merge against a plain-Python computation over all
the window's visits.

Timestamps are built from epoch seconds so that hours and hour buckets do not depend on the
machine's time zone; the session is UTC.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import Counter, defaultdict
from typing import Any

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.common.optouts import OPTOUTS, drop_opted_out
from spark_jobs.common.schemas import COOKIE_FEATURES, VISITS, missing_columns
from spark_jobs.etl import features as feats

pytestmark = pytest.mark.spark

D = dt.date(2026, 11, 20)
H1 = hashlib.sha256(b"ann@example.com").hexdigest()
H2 = hashlib.sha256(b"bob@example.com").hexdigest()
H3 = hashlib.sha256(b"cat@example.com").hexdigest()
_EPOCH = dt.date(1970, 1, 1)


# --------------------------------------------------------------------------- builders


def at(day: dt.date, hour: int, minute: int = 0) -> int:
    """Epoch seconds of ``day`` ``hour``:``minute`` UTC."""
    return (day - _EPOCH).days * 86400 + hour * 3600 + minute * 60


def visit(site: str, cookie: str, ts: int, ip: str = "home", **fields: Any) -> dict[str, Any]:
    """One visit; ``ip`` is a label turned into a hash and a prefix (``pfx-<first char>``)."""
    row: dict[str, Any] = {
        "site_id": site,
        "cookie_id": cookie,
        "ts": ts,
        "ip_hash": f"h-{ip}",
        "ip_prefix": f"pfx-{ip[0]}",
        "ip_version": 4,
        "ua_family": "Chrome",
        "ua_major": 120,
        "os_family": "Windows",
        "device_type": "desktop",
        "country": "FR",
        "city": "Paris",
        "url_domain": f"{site}.example",
        "url_path": "/news/a",
        "query_terms": [],
        "topic": "news",
        "referrer_domain": None,
        "login_hash": None,
    }
    row.update(fields)
    return row


def visits_df(spark, rows: list[dict[str, Any]]) -> DataFrame:  # type: ignore[no-untyped-def]
    """A VISITS frame from ``visit`` rows (event ids numbered in order)."""
    names = [f.name for f in VISITS.fields if f.name not in ("event_id", "ts")]
    schema = ", ".join(
        ["event_id string", "ts long"]
        + [f"{f.name} {f.dataType.simpleString()}" for f in VISITS.fields if f.name in names]
    )
    data = [(f"e{i}", r["ts"], *(r[n] for n in names)) for i, r in enumerate(rows)]
    df = spark.createDataFrame(data, schema).withColumn("ts", F.timestamp_seconds("ts"))
    return df.select(*[F.col(f.name).cast(f.dataType) for f in VISITS.fields])


def window_daily(spark, by_day: dict[dt.date, list[dict[str, Any]]], **caps: int) -> DataFrame:  # type: ignore[no-untyped-def]
    """Daily aggregates of every day, with ``dt``, as ``read_range`` would return them."""
    frames = [
        feats.daily_cookie_aggregates(visits_df(spark, rows), **caps).withColumn("dt", F.lit(day))
        for day, rows in by_day.items()
        if rows
    ]
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def features_of(spark, by_day, **caps: int) -> dict[tuple[str, str], dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Merged features as plain dicts keyed by (site_id, cookie_id), timestamps as epochs."""
    df = feats.merge_daily_aggregates(window_daily(spark, by_day), **caps).withColumns(
        {"first_seen": F.unix_seconds("first_seen"), "last_seen": F.unix_seconds("last_seen")}
    )
    return {(r.site_id, r.cookie_id): r.asDict(recursive=True) for r in df.collect()}


def random_window(seed: int, days: list[dt.date]) -> dict[dt.date, list[dict[str, Any]]]:
    """Seeded visits: shared IPs, late events (ts on the previous day), ties, nulls."""
    rng = random.Random(seed)
    cookies = [(f"s{i % 3}", f"c{i}") for i in range(10)]
    home = {c: rng.sample(["alpha", "bravo", "carol", "delta", "echo", "fox"], 3) for c in cookies}
    logins = {c: rng.choice([None, None, H1, H2, H3]) for c in cookies}
    by_day: dict[dt.date, list[dict[str, Any]]] = {}
    for day in days:
        rows = []
        for cookie in cookies:
            if rng.random() < 0.4:
                continue
            for _ in range(rng.randint(1, 5)):
                # Some events of partition D happened late on D-1 (the ETL's lateness window).
                ts = at(day, 0) + rng.randint(-3 * 3600, 86399)
                rows.append(
                    visit(
                        *cookie,
                        ts=ts,
                        ip=rng.choice(home[cookie]),
                        ua_family=rng.choice(["Chrome", "Firefox"]),
                        ua_major=rng.choice([None, 118, 119, 120]),
                        country=rng.choice(["FR", "DE", None]),
                        city=rng.choice(["Paris", "Lyon", ""]),
                        device_type=rng.choice(["desktop", "mobile"]),
                        query_terms=rng.sample(["car", "loan", "shoes", "trip"], rng.randint(0, 3)),
                        topic=rng.choice(["news", "sport", None]),
                        login_hash=logins[cookie] if rng.random() < 0.5 else rng.choice([None, H3]),
                    )
                )
        by_day[day] = rows
    return by_day


# ------------------------------------------------------------------ reference (plain Python)


def _ranked(counts: Counter, limit: int) -> list[Any]:
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def reference_features(by_day, *, max_ips, max_prefixes, max_ip_hours, max_terms, max_topics):  # type: ignore[no-untyped-def]
    """``cookie_features`` computed directly from every visit of the window."""
    popularity: dict[str, int] = defaultdict(int)
    for rows in by_day.values():
        per_ip = defaultdict(set)
        for r in rows:
            per_ip[r["ip_hash"]].add((r["site_id"], r["cookie_id"]))
        for ip, cookies in per_ip.items():
            popularity[ip] = max(popularity[ip], len(cookies))
    grouped: dict[tuple[str, str], list[tuple[dt.date, dict[str, Any]]]] = defaultdict(list)
    for day, rows in by_day.items():
        for r in rows:
            grouped[(r["site_id"], r["cookie_id"])].append((day, r))
    out = {}
    for key, items in grouped.items():
        rows = [r for _, r in items]
        ip_n = Counter(r["ip_hash"] for r in rows)
        prefix_of = {r["ip_hash"]: r["ip_prefix"] for r in rows}
        prefix_n = Counter(r["ip_prefix"] for r in rows)
        hours = Counter((r["ts"] // 3600) % 24 for r in rows)
        ip_hours = {(r["ip_hash"], r["ts"] // 3600) for r in rows}

        def counts(col: str, rows: list[dict[str, Any]] = rows) -> Counter:
            return Counter(r[col] for r in rows if r[col])

        def mode(col: str) -> Any:
            ranked = _ranked(counts(col), 1)
            return ranked[0] if ranked else None

        def latest(col: str, rows: list[dict[str, Any]] = rows) -> Any:
            seen = [(r["ts"], r[col]) for r in rows if r[col] is not None]
            return max(seen)[1] if seen else None

        terms = Counter(t for r in rows for t in r["query_terms"])
        out[key] = {
            "first_seen": min(r["ts"] for r in rows),
            "last_seen": max(r["ts"] for r in rows),
            "n_events": len(rows),
            "n_active_days": len({d for d, _ in items}),
            "ips": [
                {
                    "ip_hash": ip,
                    "ip_prefix": prefix_of[ip],
                    "n_events": ip_n[ip],
                    "ip_popularity": popularity[ip],
                }
                for ip in _ranked(ip_n, max_ips)
            ],
            "ip_prefixes": [
                {"ip_prefix": p, "n_events": prefix_n[p]} for p in _ranked(prefix_n, max_prefixes)
            ],
            "ip_hours": [
                {"ip_hash": ip, "hour_bucket": hb}
                for hb, ip in sorted(
                    ((hb, ip) for ip, hb in ip_hours), key=lambda x: (-x[0], x[1])
                )[:max_ip_hours]
            ],
            **{col: mode(col) for col in feats.MODE_FEATURES},
            "ua_major": latest("ua_major"),
            "hour_profile": [hours[h] / len(rows) for h in range(24)],
            "query_terms": _ranked(terms, max_terms),
            "topics": _ranked(counts("topic"), max_topics),
            "login_hash": latest("login_hash"),
            "n_ips": len(ip_n),
        }
    return out


# ------------------------------------------------------------------------------ tests


def test_daily_aggregates_match_their_schema(spark) -> None:  # type: ignore[no-untyped-def]
    daily = feats.daily_cookie_aggregates(visits_df(spark, [visit("s1", "c1", at(D, 9))]))
    assert daily.schema.simpleString() == feats.DAILY_COOKIE_AGGREGATES.simpleString()
    merged = feats.merge_daily_aggregates(daily.withColumn("dt", F.lit(D)))
    assert missing_columns(feats.select_columns(merged, COOKIE_FEATURES), COOKIE_FEATURES) == []


def test_shared_ip_popularity_is_the_busiest_day_of_the_window(spark) -> None:  # type: ignore[no-untyped-def]
    d1 = D - dt.timedelta(days=1)
    by_day = {
        # Day 1: three cookies of two sites behind the office IP; c1 alone at home.
        d1: [
            visit("s1", "c1", at(d1, 9), ip="office"),
            visit("s1", "c1", at(d1, 20), ip="home"),
            visit("s1", "c2", at(d1, 10), ip="office"),
            visit("s2", "c1", at(d1, 11), ip="office"),
        ],
        # Day 2: c4 is alone on the office IP, yet the IP is still the 3-cookie office IP.
        D: [visit("s3", "c4", at(D, 9), ip="office"), visit("s3", "c4", at(D, 10), ip="office")],
    }
    got = features_of(spark, by_day)
    cases = [
        (("s1", "c1"), "h-office", 3),
        (("s1", "c1"), "h-home", 1),
        (("s2", "c1"), "h-office", 3),
        (("s3", "c4"), "h-office", 3),
    ]
    for key, ip, popularity in cases:
        entry = {i["ip_hash"]: i for i in got[key]["ips"]}[ip]
        assert entry["ip_popularity"] == popularity, (key, ip)
    assert got[("s3", "c4")]["ips"][0]["n_events"] == 2


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ([0, 0, 13, 23], {0: 0.5, 13: 0.25, 23: 0.25}),
        ([7], {7: 1.0}),
        ([5, 6, 7, 8], {5: 0.25, 6: 0.25, 7: 0.25, 8: 0.25}),
    ],
)
def test_hour_profile(spark, hours, expected) -> None:  # type: ignore[no-untyped-def]
    rows = [visit("s1", "c1", at(D, h, minute=i)) for i, h in enumerate(hours)]
    profile = features_of(spark, {D: rows})[("s1", "c1")]["hour_profile"]
    assert profile == [expected.get(h, 0.0) for h in range(24)]


def test_caps_keep_the_top_entries_with_deterministic_ties(spark) -> None:  # type: ignore[no-untyped-def]
    # IP events: a=3, b=2, c=2, d=1 (ties b/c break on the hash); terms: x=3, y=1, z=1.
    ips = ["a1", "a1", "a1", "b1", "b1", "c2", "c2", "d3"]
    rows = [visit("s1", "c1", at(D, h), ip=ip) for h, ip in enumerate(ips)]
    rows[0]["query_terms"] = ["x", "z"]
    rows[1]["query_terms"] = ["x", "y"]
    rows[2]["query_terms"] = ["x"]
    got = features_of(
        spark, {D: rows}, max_ips=3, max_prefixes=2, max_ip_hours=2, max_terms=2, max_topics=1
    )[("s1", "c1")]
    cases = [
        ("ips", [i["ip_hash"] for i in got["ips"]], ["h-a1", "h-b1", "h-c2"]),
        (
            "ip_prefixes",
            got["ip_prefixes"],
            [
                {"ip_prefix": "pfx-a", "n_events": 3},
                {"ip_prefix": "pfx-b", "n_events": 2},
            ],
        ),
        (
            "ip_hours",
            got["ip_hours"],
            [
                {"ip_hash": "h-d3", "hour_bucket": at(D, 7) // 3600},
                {"ip_hash": "h-c2", "hour_bucket": at(D, 6) // 3600},
            ],
        ),
        ("query_terms", got["query_terms"], ["x", "y"]),
        ("topics", got["topics"], ["news"]),
        ("n_ips", got["n_ips"], 4),
    ]
    for name, actual, expected in cases:
        assert actual == expected, name


def test_daily_caps_bound_the_daily_rows(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [visit("s1", "c1", at(D, h), ip=f"ip{h}", query_terms=[f"t{h}"]) for h in range(10)]
    daily = feats.daily_cookie_aggregates(
        visits_df(spark, rows), max_ips=4, max_ip_hours=3, max_terms=2
    ).first()
    assert daily is not None
    assert [len(daily.ips), len(daily.ip_hours), len(daily.term_counts)] == [4, 3, 2]
    assert daily.ip_hours[0].hour_bucket == at(D, 9) // 3600  # most recent kept


def test_latest_login_hash_and_ua_major(spark) -> None:  # type: ignore[no-untyped-def]
    d1 = D - dt.timedelta(days=1)
    by_day = {
        d1: [
            visit("s1", "c1", at(d1, 8), login_hash=H1, ua_major=118),
            visit("s1", "c1", at(d1, 9), login_hash=H2, ua_major=None),
            visit("s1", "c2", at(d1, 9), login_hash=H2),
        ],
        D: [
            # c1's latest login is H2 (the last non-null), its latest ua_major 119.
            visit("s1", "c1", at(D, 1), login_hash=None, ua_major=119),
            # c2 logs in with H3 on D (after H2 on D-1): latest wins across days.
            visit("s1", "c2", at(D, 2), login_hash=H3),
            visit("s1", "c3", at(D, 2)),
        ],
    }
    got = features_of(spark, by_day)
    cases = [
        (("s1", "c1"), H2, 119),
        (("s1", "c2"), H3, 120),
        (("s1", "c3"), None, 120),
    ]
    for key, login, ua_major in cases:
        assert (got[key]["login_hash"], got[key]["ua_major"]) == (login, ua_major), key


def test_most_frequent_values_with_ties_broken_by_value(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [
        visit("s1", "c1", at(D, 1), ua_family="Safari", country="DE", city=None),
        visit("s1", "c1", at(D, 2), ua_family="Chrome", country="DE", city=None),
        visit("s1", "c1", at(D, 3), ua_family="Safari", country="FR", city=None),
        visit("s1", "c1", at(D, 4), ua_family="Chrome", country="FR", city=None),
        visit("s1", "c1", at(D, 5), ua_family="Chrome", country=None, city=None),
    ]
    got = features_of(spark, {D: rows})[("s1", "c1")]
    assert (got["ua_family"], got["country"], got["city"]) == ("Chrome", "DE", None)


@pytest.mark.parametrize("seed", [7, 2026])
def test_merge_of_daily_aggregates_equals_direct_computation(spark, seed) -> None:  # type: ignore[no-untyped-def]
    days = [D - dt.timedelta(days=k) for k in (9, 4, 3, 1, 0)]
    by_day = random_window(seed, days)
    caps = {"max_ips": 2, "max_prefixes": 2, "max_ip_hours": 5, "max_terms": 2, "max_topics": 1}
    expected = reference_features(by_day, **caps)
    got = features_of(spark, by_day, **caps)
    assert set(got) == set(expected)
    for key, want in expected.items():
        have = {k: got[key][k] for k in want}
        assert have["hour_profile"] == pytest.approx(want["hour_profile"], abs=1e-12), key
        have["hour_profile"] = want["hour_profile"]
        assert have == want, key


def test_opted_out_cookies_and_logins_are_dropped(spark) -> None:  # type: ignore[no-untyped-def]
    d1 = D - dt.timedelta(days=1)
    by_day = {
        # c1 logged in with H1 earlier in the window, then with H2: H1's opt-out still drops it.
        d1: [visit("s1", "c1", at(d1, 8), login_hash=H1), visit("s1", "c2", at(d1, 8))],
        D: [
            visit("s1", "c1", at(D, 8), login_hash=H2),
            visit("s1", "c3", at(D, 8), login_hash=H2),
            visit("s1", "c4", at(D, 8)),
            visit("s2", "c2", at(D, 8)),  # same cookie id on another site: a different cookie
        ],
    }
    daily = window_daily(spark, by_day)
    optouts = spark.createDataFrame(
        [("login_hash", None, None, H1, None), ("cookie", "s1", "c2", None, None)], OPTOUTS
    )
    logins = feats.window_logins(daily)
    kept = feats.drop_opted_out_cookies(
        feats.merge_daily_aggregates(daily), logins, drop_opted_out(logins, optouts)
    )
    assert sorted((r.site_id, r.cookie_id) for r in kept.collect()) == [
        ("s1", "c3"),
        ("s1", "c4"),
        ("s2", "c2"),
    ]
