"""Session evidence: hops in (IP, UA) streams, quiet-IP co-presence, the window, the rule."""

from __future__ import annotations

import datetime as dt

import pytest
from pair_world import cookie
from pyspark.sql import functions as F

from spark_jobs.common.schemas import PAIR_KEYS
from spark_jobs.pair_scoring.candidates import build_candidates
from spark_jobs.pair_scoring.session_evidence import (
    EVIDENCE_COLUMNS,
    NO_HOP_GAP,
    daily_session_pairs,
    session_rule_edges,
    skipped_ip_days,
    window_evidence,
    with_evidence,
)

pytestmark = pytest.mark.spark

T0 = dt.datetime(2026, 3, 2, 20, 0, 0)
COLUMNS = ["site_id", "cookie_id", "ts", "ip_hash", "ua_hash"]


def _visit(site: str, cookie: str, seconds: int, ip: str = "home", ua: str = "chrome") -> tuple:
    return (site, cookie, T0 + dt.timedelta(seconds=seconds), ip, ua)


def _by_pair(df) -> dict[tuple, dict]:  # type: ignore[no-untyped-def]
    return {tuple(r[k] for k in PAIR_KEYS): r.asDict() for r in df.collect()}


def test_a_browser_moving_from_site_to_site_hops(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [
        _visit("news", "n1", 0),
        _visit("news", "n1", 40),
        _visit("mail", "m1", 65),  # 25 s after news: a hop news -> mail
        _visit("shop", "s1", 200),  # 135 s after mail
        _visit("news", "n1", 900),  # 700 s after shop: too late for a hop
        # another browser on the same IP, in between: a separate stream, never a hop
        _visit("mail", "m2", 50, ua="firefox"),
    ]
    got = _by_pair(daily_session_pairs(spark.createDataFrame(rows, COLUMNS)))
    news_mail = got[("mail", "m1", "news", "n1")]
    assert (news_mail["hops_30s"], news_mail["hops_120s"], news_mail["hops_300s"]) == (1, 1, 1)
    assert news_mail["hop_min_gap_s"] == 25 and news_mail["quiet_hops_300s"] == 1
    mail_shop = got[("mail", "m1", "shop", "s1")]
    assert (mail_shop["hops_30s"], mail_shop["hops_120s"], mail_shop["hops_300s"]) == (0, 0, 1)
    assert ("news", "n1", "shop", "s1") not in got or got[("news", "n1", "shop", "s1")][
        "hops_300s"
    ] == 0
    # m2 (firefox) and the chrome cookies are two devices on a quiet IP: co-present
    assert got[("mail", "m1", "mail", "m2")]["copresent"] == 1
    assert got[("mail", "m1", "mail", "m2")]["hops_300s"] == 0
    # the same user agent is not "two devices"
    assert ("mail", "m1", "news", "n1") in got and news_mail["copresent"] == 0


def test_someone_else_in_between_breaks_the_hop(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [_visit("news", "a", 0), _visit("mail", "b", 10), _visit("shop", "c", 20)]
    got = _by_pair(daily_session_pairs(spark.createDataFrame(rows, COLUMNS)))
    assert got[("mail", "b", "news", "a")]["hops_300s"] == 1
    assert got[("mail", "b", "shop", "c")]["hops_300s"] == 1
    assert ("news", "a", "shop", "c") not in got  # b's event lies between them


def test_a_busy_ip_gives_hops_but_not_quiet_ones_and_no_copresence(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [_visit("news", "a", 0, ip="cgnat"), _visit("mail", "b", 10, ip="cgnat")]
    rows += [_visit("x", f"k{i}", 100 + i, ip="cgnat", ua=f"ua{i}") for i in range(10)]
    df = spark.createDataFrame(rows, COLUMNS)
    got = _by_pair(daily_session_pairs(df, quiet_ip_max_user_agents=6))
    pair = got[("mail", "b", "news", "a")]
    assert pair["hops_300s"] == 1 and pair["quiet_hops_300s"] == 0
    assert all(r["copresent"] == 0 for r in got.values())


def test_a_quiet_ip_day_with_too_many_cookies_is_skipped_and_counted(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [_visit(f"s{i}", f"c{i}", 1000 * i, ua=f"ua{i % 2}") for i in range(8)]
    df = spark.createDataFrame(rows, COLUMNS)
    got = daily_session_pairs(df, max_cookies_per_ip_day=5)
    assert got.where("copresent = 1").count() == 0
    skipped = skipped_ip_days(df, max_cookies_per_ip_day=5).first()
    assert (skipped["skipped_ip_days"], skipped["skipped_cookies"]) == (1, 8)
    assert daily_session_pairs(df, max_cookies_per_ip_day=8).where("copresent = 1").count() == 16


def test_the_window_counts_days_and_the_rule_uses_it(spark) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for day in range(4):
        base = day * 86_400
        rows += [
            (*_visit("news", "n1", base), f"d{day}"),
            (*_visit("mail", "m1", base + 20), f"d{day}"),
        ]
        if day < 3:  # a phone on the same home IP on three of the days
            rows.append((*_visit("shop", "p1", base + 5000, ua="iphone"), f"d{day}"))
    df = spark.createDataFrame(rows, [*COLUMNS, "dt"])
    daily = daily_session_pairs(df, day_col="dt")
    window = _by_pair(window_evidence(daily))
    hop = window[("mail", "m1", "news", "n1")]
    assert (hop["hops_300s"], hop["hop_days"], hop["hop_min_gap_s"]) == (4, 4, 20)
    phone = window[("news", "n1", "shop", "p1")]
    assert phone["quiet_codays"] == 3 and phone["hop_min_gap_s"] == NO_HOP_GAP
    rule = {tuple(r) for r in session_rule_edges(window_evidence(daily)).collect()}
    assert ("mail", "m1", "news", "n1") in rule and ("news", "n1", "shop", "p1") in rule
    assert {
        tuple(r) for r in session_rule_edges(window_evidence(daily), min_codays=4).collect()
    } == {("mail", "m1", "news", "n1")}


def test_with_evidence_fills_old_pairs(spark) -> None:  # type: ignore[no-untyped-def]
    pairs = spark.createDataFrame([("a", "1", "b", "2")], PAIR_KEYS)
    row = with_evidence(pairs).first()
    assert [row[c] for c in EVIDENCE_COLUMNS] == [0, 0, 0, 0, 0, NO_HOP_GAP, 0]
    assert (row["evidence_rank"], row["evidence_share"]) == (0, 0.0)


def test_evidence_pairs_become_candidates_unless_opted_out(spark, make_features) -> None:  # type: ignore[no-untyped-def]
    features = make_features(
        [
            cookie("news", "n1", ips=["x.1"], ua=("Chrome", 120, "Windows", "desktop")),
            cookie("mail", "m1", ips=["y.1"], ua=("Firefox", 120, "Linux", "desktop")),
        ]
    )
    evidence = window_evidence(
        daily_session_pairs(
            spark.createDataFrame(
                [
                    _visit("news", "n1", 0),
                    _visit("mail", "m1", 20),
                    _visit("gone", "g1", 40),  # a cookie not in the features: opted out
                ],
                COLUMNS,
            )
        ).withColumn("dt", F.lit("d0"))
    )
    pairs = build_candidates(features, max_block_size=50, evidence=evidence).collect()
    assert [
        (r["site_id_l"], r["cookie_id_l"], r["site_id_r"], r["cookie_id_r"]) for r in pairs
    ] == [("mail", "m1", "news", "n1")]
    (pair,) = pairs
    assert pair["blocking_keys"] == ["session"] and pair["hops_300s"] == 1
    assert pair["block_weight"] == pytest.approx(1.0) and pair["n_blocks"] == 1
    assert (pair["evidence_rank"], pair["evidence_share"]) == (1, 1.0)


def test_ranks_and_shares_among_a_cookies_candidates(spark, make_features) -> None:  # type: ignore[no-untyped-def]
    # a (laptop) shares a quiet home IP with b alone and an office IP with c and d
    features = make_features(
        [
            cookie("s1", "a", ips=["home.1", ("office.1", 900)]),
            cookie("s2", "b", ips=["home.1"]),
            cookie("s3", "c", ips=[("office.1", 900)]),
            cookie("s4", "d", ips=[("office.1", 900)]),
        ]
    )
    pairs = build_candidates(features, max_block_size=50, keys=["ip"])
    got = {(r.cookie_id_l, r.cookie_id_r): r for r in pairs.collect()}
    ab, ac = got["a", "b"], got["a", "c"]
    assert ab.evidence_rank == 1  # a's strongest: its home IP (weight 1 + 0) vs office (1/2)
    assert ab.evidence_share == pytest.approx(1.0)  # b's only candidate
    assert ac.evidence_rank in (1, 2) and ac.evidence_share == pytest.approx(0.5)
