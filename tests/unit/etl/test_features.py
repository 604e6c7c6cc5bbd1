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


def visit(
    site: str, cookie: str, ts: int, ip: str = "home", prefix: str | None = None, **fields: Any
) -> dict[str, Any]:
    """One visit; ``ip`` is a label turned into a hash and (unless given) a prefix."""
    row: dict[str, Any] = {
        "site_id": site,
        "cookie_id": cookie,
        "ts": ts,
        "ip_hash": f"h-{ip}",
        "ip_prefix": f"pfx-{prefix or ip}",
        "ip_version": 4,
        "ua_family": "Chrome",
        "ua_major": 120,
        "os_family": "Windows",
        "device_type": "desktop",
        "ua_hash": "0123456789abcdef",
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


def visits_df(spark, rows: list[dict[str, Any]], *, with_day: bool = False) -> DataFrame:  # type: ignore[no-untyped-def]
    """A VISITS frame from ``visit`` rows (event ids numbered in order), plus each row's
    ``dt`` DATE when ``with_day``."""
    names = [f.name for f in VISITS.fields if f.name not in ("event_id", "ts")]
    schema = ", ".join(
        ["event_id string", "ts long"]
        + [f"{f.name} {f.dataType.simpleString()}" for f in VISITS.fields if f.name in names]
        + (["dt date"] if with_day else [])
    )
    data = [
        (f"e{i}", r["ts"], *(r[n] for n in names), *([r["dt"]] if with_day else []))
        for i, r in enumerate(rows)
    ]
    df = spark.createDataFrame(data, schema).withColumn("ts", F.timestamp_seconds("ts"))
    extra = ["dt"] if with_day else []
    return df.select(*[F.col(f.name).cast(f.dataType) for f in VISITS.fields], *extra)


def window_daily(spark, by_day: dict[dt.date, list[dict[str, Any]]], **caps: int) -> DataFrame:  # type: ignore[no-untyped-def]
    """Daily aggregates of every day in one pass, with ``dt``, as ``read_range`` returns them."""
    rows = [dict(r, dt=day) for day, day_rows in by_day.items() for r in day_rows]
    return feats.daily_cookie_aggregates(
        visits_df(spark, rows, with_day=True), day_col="dt", **caps
    )


def as_dicts(features: DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    """Feature rows as plain dicts keyed by (site_id, cookie_id), timestamps as epochs."""
    df = features.withColumns(
        {"first_seen": F.unix_seconds("first_seen"), "last_seen": F.unix_seconds("last_seen")}
    )
    return {(r.site_id, r.cookie_id): r.asDict(recursive=True) for r in df.collect()}


def random_window(seed: int, days: list[dt.date]) -> dict[dt.date, list[dict[str, Any]]]:
    """Seeded visits: shared IPs, late events (ts on the previous day), ties, nulls."""
    rng = random.Random(seed)
    cookies = [(f"r{i % 3}", f"c{i}") for i in range(12)]
    ips = ["alpha", "bravo", "carol", "delta", "echo", "fox"]
    home = {c: rng.sample(ips, 3) for c in cookies}
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
                        ip=(ip := rng.choice(home[cookie])),
                        prefix=ip[0] if ip < "d" else "d-f",
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


# ------------------------------------------------------------------------------ cases
# Every case owns its sites and IPs, so all of them (and a seeded random window) run through
# ONE daily-aggregate + merge computation: Spark start-up per action dominates tiny data.

D1 = D - dt.timedelta(days=1)
CAPS = {"max_ips": 3, "max_prefixes": 2, "max_ip_hours": 5, "max_terms": 2, "max_topics": 1}
HOUR_CASES = {
    "h0": ([0, 0, 13, 23], {0: 0.5, 13: 0.25, 23: 0.25}),
    "h1": ([7], {7: 1.0}),
    "h2": ([5, 6, 7, 8], {5: 0.25, 6: 0.25, 7: 0.25, 8: 0.25}),
}


def popularity_case() -> dict[dt.date, list[dict[str, Any]]]:
    return {
        # D-1: three cookies of two sites behind the office IP; c1 alone at home.
        D1: [
            visit("pop1", "c1", at(D1, 9), ip="pop-office"),
            visit("pop1", "c1", at(D1, 20), ip="pop-home"),
            visit("pop1", "c2", at(D1, 10), ip="pop-office"),
            visit("pop2", "c1", at(D1, 11), ip="pop-office"),
        ],
        # D: c4 is alone on the office IP, yet it is still the 3-cookie office IP.
        D: [
            visit("pop3", "c4", at(D, 9), ip="pop-office"),
            visit("pop3", "c4", at(D, 10), ip="pop-office"),
        ],
    }


def hour_case() -> dict[dt.date, list[dict[str, Any]]]:
    return {
        D: [
            visit("hour", cookie, at(D, h, minute=i), ip="hour-ip")
            for cookie, (hours, _) in HOUR_CASES.items()
            for i, h in enumerate(hours)
        ]
    }


def caps_case() -> dict[dt.date, list[dict[str, Any]]]:
    # IP events: a1=3, b1=2, c2=2, d3=1 (b1/c2 tie, broken by hash); prefixes P1 (a1, c2)=5,
    # P2=2, P3=1; terms x=3, y=1, z=1 (y/z tie); one (ip, hour) per hour 0..7.
    ips = [("cap-a1", "P1"), ("cap-a1", "P1"), ("cap-a1", "P1"), ("cap-b1", "P2")]
    ips += [("cap-b1", "P2"), ("cap-c2", "P1"), ("cap-c2", "P1"), ("cap-d3", "P3")]
    terms = [["x", "z"], ["x", "y"], ["x"]] + [[]] * 5
    return {
        D: [
            visit("cap", "c1", at(D, h), ip=ip, prefix=p, query_terms=t)
            for h, ((ip, p), t) in enumerate(zip(ips, terms, strict=True))
        ]
    }


def login_case() -> dict[dt.date, list[dict[str, Any]]]:
    return {
        D1: [
            visit("login", "c1", at(D1, 8), login_hash=H1, ua_major=118),
            visit("login", "c1", at(D1, 9), login_hash=H2, ua_major=None),
            visit("login", "c2", at(D1, 9), login_hash=H2),
        ],
        D: [
            # c1: the latest login is H2 (the last non-null), the latest ua_major 119.
            visit("login", "c1", at(D, 1), login_hash=None, ua_major=119),
            # c2 logs in with H3 on D after H2 on D-1: the latest wins across days.
            visit("login", "c2", at(D, 2), login_hash=H3),
            visit("login", "c3", at(D, 2)),
        ],
    }


def mode_case() -> dict[dt.date, list[dict[str, Any]]]:
    values = [("Safari", "DE"), ("Chrome", "DE"), ("Safari", "FR"), ("Chrome", "FR")]
    values += [("Chrome", None)]
    return {
        D: [
            visit("mode", "c1", at(D, h), ua_family=ua, country=country, city=None)
            for h, (ua, country) in enumerate(values)
        ]
    }


def optout_case() -> dict[dt.date, list[dict[str, Any]]]:
    return {
        # c1 logged in with H1 earlier in the window, then with H2: H1's opt-out still drops it.
        D1: [visit("opt", "c1", at(D1, 8), login_hash=H1), visit("opt", "c2", at(D1, 8))],
        D: [
            visit("opt", "c1", at(D, 8), login_hash=H2),
            visit("opt", "c3", at(D, 8), login_hash=H2),
            visit("opt", "c4", at(D, 8)),
            visit("opt2", "c2", at(D, 8)),  # same cookie id on another site: another cookie
        ],
    }


def all_cases() -> dict[dt.date, list[dict[str, Any]]]:
    by_day: dict[dt.date, list[dict[str, Any]]] = defaultdict(list)
    cases = [popularity_case(), hour_case(), caps_case(), login_case(), mode_case()]
    cases += [optout_case(), random_window(7, [D - dt.timedelta(days=k) for k in (9, 4, 3, 1, 0)])]
    for case in cases:
        for day, rows in case.items():
            by_day[day].extend(rows)
    return dict(sorted(by_day.items()))


@pytest.fixture(scope="module")
def window(spark):  # type: ignore[no-untyped-def]
    """(visits by day, daily aggregates, merged features as dicts and as a DataFrame)."""
    by_day = all_cases()
    daily = window_daily(spark, by_day).localCheckpoint()
    merged = feats.merge_daily_aggregates(daily, **CAPS).localCheckpoint()
    return by_day, daily, as_dicts(merged), merged


# ------------------------------------------------------------------------------ tests


def test_tables_match_their_schemas(window) -> None:  # type: ignore[no-untyped-def]
    _, daily, _, _ = window
    assert daily.drop("dt").schema.simpleString() == feats.DAILY_COOKIE_AGGREGATES.simpleString()
    merged = feats.select_columns(feats.merge_daily_aggregates(daily), COOKIE_FEATURES)
    assert missing_columns(merged, COOKIE_FEATURES) == []


@pytest.mark.parametrize(
    ("key", "ip", "popularity"),
    [
        (("pop1", "c1"), "h-pop-office", 3),
        (("pop1", "c1"), "h-pop-home", 1),
        (("pop2", "c1"), "h-pop-office", 3),
        (("pop3", "c4"), "h-pop-office", 3),  # busiest day of the IP, not of the cookie
    ],
)
def test_shared_ip_popularity(window, key, ip, popularity) -> None:  # type: ignore[no-untyped-def]
    entry = {i["ip_hash"]: i for i in window[2][key]["ips"]}[ip]
    assert entry["ip_popularity"] == popularity


@pytest.mark.parametrize("cookie", sorted(HOUR_CASES))
def test_hour_profile(window, cookie) -> None:  # type: ignore[no-untyped-def]
    expected = HOUR_CASES[cookie][1]
    profile = window[2][("hour", cookie)]["hour_profile"]
    assert profile == [expected.get(h, 0.0) for h in range(24)]


def test_caps_keep_the_top_entries_with_deterministic_ties(window) -> None:  # type: ignore[no-untyped-def]
    got = window[2][("cap", "c1")]
    bucket = at(D, 0) // 3600
    cases = [
        (
            "ips",
            [(i["ip_hash"], i["n_events"]) for i in got["ips"]],
            [
                ("h-cap-a1", 3),
                ("h-cap-b1", 2),
                ("h-cap-c2", 2),
            ],
        ),
        (
            "ip_prefixes",
            got["ip_prefixes"],
            [
                {"ip_prefix": "pfx-P1", "n_events": 5},
                {"ip_prefix": "pfx-P2", "n_events": 2},
            ],
        ),
        (
            "ip_hours",
            [(h["ip_hash"], h["hour_bucket"] - bucket) for h in got["ip_hours"]],
            [
                ("h-cap-d3", 7),
                ("h-cap-c2", 6),
                ("h-cap-c2", 5),
                ("h-cap-b1", 4),
                ("h-cap-b1", 3),
            ],
        ),
        ("query_terms", got["query_terms"], ["x", "y"]),
        ("topics", got["topics"], ["news"]),
        ("n_ips", got["n_ips"], 4),
        ("n_events", got["n_events"], 8),
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
    assert daily.ip_hours[0].hour_bucket == at(D, 9) // 3600  # the most recent is kept


@pytest.mark.parametrize(
    ("cookie", "login", "ua_major"), [("c1", H2, 119), ("c2", H3, 120), ("c3", None, 120)]
)
def test_latest_login_hash_and_ua_major(window, cookie, login, ua_major) -> None:  # type: ignore[no-untyped-def]
    got = window[2][("login", cookie)]
    assert (got["login_hash"], got["ua_major"]) == (login, ua_major)


def test_most_frequent_values_with_ties_broken_by_value(window) -> None:  # type: ignore[no-untyped-def]
    got = window[2][("mode", "c1")]
    assert (got["ua_family"], got["country"], got["city"]) == ("Chrome", "DE", None)


def test_merge_of_daily_aggregates_equals_direct_computation(window) -> None:  # type: ignore[no-untyped-def]
    by_day, _, got, _ = window
    expected = reference_features(by_day, **CAPS)
    assert set(got) == set(expected)
    assert sum(1 for site, _ in expected if site.startswith("r")) >= 10  # the random cookies
    for key, want in expected.items():
        have = {k: got[key][k] for k in want}
        assert have["hour_profile"] == pytest.approx(want["hour_profile"], abs=1e-12), key
        have["hour_profile"] = want["hour_profile"]
        assert have == want, key


def test_opted_out_cookies_and_logins_are_dropped(spark, window) -> None:  # type: ignore[no-untyped-def]
    _, daily, _, merged = window
    optouts = spark.createDataFrame(
        [("login_hash", None, None, H1, None), ("cookie", "opt", "c2", None, None)], OPTOUTS
    )
    logins = feats.window_logins(daily.where(F.col("site_id").startswith("opt")))
    kept = feats.drop_opted_out_cookies(
        merged.where(F.col("site_id").startswith("opt")), logins, drop_opted_out(logins, optouts)
    )
    assert sorted((r.site_id, r.cookie_id) for r in kept.collect()) == [
        ("opt", "c3"),
        ("opt", "c4"),
        ("opt2", "c2"),
    ]
