"""Blocking: capped blocks, one row per unordered pair, merged keys, reset cookies, determinism."""

from __future__ import annotations

import pytest
from pair_world import cookie, prefix_of, random_world
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_jobs.common.schemas import (
    CANDIDATE_PAIRS,
    COOKIE_FEATURES,
    PAIR_KEYS,
    missing_columns,
)
from spark_jobs.pair_scoring.candidates import block_members, blocking_report, build_candidates

pytestmark = pytest.mark.spark


def _pairs(df) -> set[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    return {tuple(r) for r in df.select(*PAIR_KEYS).collect()}


def _office_cookies(spark, n: int, *, ip_hash: str):  # type: ignore[no-untyped-def]
    """``n`` desktop-Chrome cookies on 7 sites behind one IP, generated in Spark."""
    ip = F.struct(
        F.lit(ip_hash).alias("ip_hash"),
        F.lit(prefix_of(ip_hash)).alias("ip_prefix"),
        F.lit(5).cast("long").alias("n_events"),
        F.lit(900).cast("long").alias("ip_popularity"),
    )
    prefix = F.struct(
        F.lit(prefix_of(ip_hash)).alias("ip_prefix"), F.lit(5).cast("long").alias("n_events")
    )
    given = {
        "site_id": F.concat(F.lit("site"), (F.col("id") % 7).cast("string")),
        "cookie_id": F.format_string("office-%04d", F.col("id")),
        "ips": F.array(ip),
        "ip_prefixes": F.array(prefix),
        "ua_family": F.lit("Chrome"),
        "os_family": F.lit("Windows"),
        "device_type": F.lit("desktop"),
    }
    return spark.range(0, n, numPartitions=2).select(
        *(
            (given[f.name] if f.name in given else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in COOKIE_FEATURES.fields
        )
    )


def test_huge_shared_ip_block_is_skipped_and_counted(make_features) -> None:  # type: ignore[no-untyped-def]
    # 2,000 cookies behind one office IP (7 sites, one browser), and one household whose
    # laptop also goes to the office.
    office = _office_cookies(make_features([]).sparkSession, 2000, ip_hash="office.1")
    home = make_features(
        [
            cookie("siteA", "home-laptop", ips=["home.1", ("office.1", 900)]),
            cookie(
                "siteB", "home-phone", ips=["home.1"], ua=("Mobile Safari", 17, "iOS", "mobile")
            ),
        ]
    )
    features = office.unionByName(home)
    pairs = build_candidates(features, max_block_size=50)

    # Only the household pair: nothing of the 2,001 x 2,000 / 2 office pairs.
    assert _pairs(pairs) == {("siteA", "home-laptop", "siteB", "home-phone")}
    report = {
        r["key"]: r.asDict()
        for r in blocking_report(block_members(features), max_block_size=50).collect()
    }
    assert report["ip"]["skipped_blocks"] == 1
    assert report["ip"]["skipped_cookies"] == 2001
    assert report["ip"]["largest_block"] == 2001
    # The office's /24 with the same desktop Chrome is one more block, also skipped.
    assert report["prefix_ua"]["skipped_blocks"] == 1
    assert report["prefix_ua"]["skipped_cookies"] == 2001


def test_pair_found_by_several_blocks_appears_once_with_merged_keys(make_features) -> None:  # type: ignore[no-untyped-def]
    features = make_features(
        [
            cookie("siteB", "b", ips=["home.1"], hours=[("home.1", 20)]),
            cookie("siteA", "a", ips=["home.1"], hours=[("home.1", 20)]),
        ]
    )
    rows = build_candidates(features, max_block_size=50).collect()

    assert len(rows) == 1
    row = rows[0]
    # Ordered: (siteA, a) < (siteB, b) whatever the input order.
    assert (row.site_id_l, row.cookie_id_l, row.site_id_r, row.cookie_id_r) == (
        "siteA",
        "a",
        "siteB",
        "b",
    )
    assert row.blocking_keys == ["ip", "ip_day", "ip_hour", "prefix_ua"]
    assert row.n_blocks == 4
    assert row.block_weight == pytest.approx(4.0)


def test_each_unordered_pair_once_and_ordered(make_features) -> None:  # type: ignore[no-untyped-def]
    pairs = build_candidates(make_features(random_world(7)), max_block_size=50)
    rows = pairs.collect()

    assert rows, "the world must produce pairs for this test to mean anything"
    assert all((r.site_id_l, r.cookie_id_l) < (r.site_id_r, r.cookie_id_r) for r in rows)
    unordered = {
        frozenset([(r.site_id_l, r.cookie_id_l), (r.site_id_r, r.cookie_id_r)]) for r in rows
    }
    assert len(unordered) == len(rows)
    assert missing_columns(pairs, CANDIDATE_PAIRS) == []


def test_same_site_reset_cookie_is_paired(make_features) -> None:  # type: ignore[no-untyped-def]
    # Safari's cap replaced the cookie on day 7: same site, same browser, same home network.
    features = make_features(
        [
            cookie("siteA", "old", ips=["home.1"], first_day=0, last_day=6),
            cookie("siteA", "new", ips=["home.2"], first_day=7, last_day=12),
            cookie("siteA", "neighbour", ips=["other.1"]),
        ]
    )
    rows = build_candidates(features, max_block_size=50).collect()

    assert [(r.cookie_id_l, r.cookie_id_r, r.blocking_keys) for r in rows] == [
        ("new", "old", ["prefix_ua"])
    ]


def test_rare_shared_term_on_the_same_network_pairs_different_browsers(make_features) -> None:  # type: ignore[no-untyped-def]
    features = make_features(
        [
            cookie("siteA", "laptop", ips=["net.1"], query_terms=["kayak rental", "news"]),
            cookie(
                "siteB",
                "phone",
                ips=["net.2"],
                query_terms=["kayak rental"],
                ua=("Mobile Safari", 17, "iOS", "mobile"),
            ),
            cookie(
                "siteB",
                "stranger",
                ips=["far.1"],
                query_terms=["kayak rental"],
                ua=("Mobile Safari", 17, "iOS", "mobile"),
            ),
        ]
    )
    rows = build_candidates(features, max_block_size=50).collect()

    assert [(r.cookie_id_l, r.cookie_id_r, r.blocking_keys) for r in rows] == [
        ("laptop", "phone", ["prefix_term"])
    ]


def test_login_hash_is_not_a_blocking_key(make_features) -> None:  # type: ignore[no-untyped-def]
    features = make_features(
        [
            cookie("siteA", "a", ips=["x.1"], login_hash="f" * 64),
            cookie(
                "siteB",
                "b",
                ips=["y.1"],
                login_hash="f" * 64,
                ua=("Firefox", 130, "Linux", "desktop"),
            ),
        ]
    )
    assert build_candidates(features, max_block_size=50).count() == 0


def test_block_size_override_applies_to_its_key_only(make_features) -> None:  # type: ignore[no-untyped-def]
    trio = [cookie(f"site{i}", f"c{i}", ips=["home.1"], hours=[("home.1", 3)]) for i in range(3)]
    pairs = build_candidates(
        make_features(trio), max_block_size=50, block_size_overrides={"ip": 2, "prefix_ua": 2}
    )
    # The IP and prefix blocks (3 cookies) exceed their cap of 2; hour and day blocks do not.
    assert {tuple(r.blocking_keys) for r in pairs.collect()} == {("ip_day", "ip_hour")}
    assert pairs.count() == 3


def test_pairs_per_cookie_are_capped_keeping_the_strongest(make_features) -> None:  # type: ignore[no-untyped-def]
    # 30 cookies on one network with one browser (one block of 30), and a and b also share
    # a home IP: their pair is the strongest of both and must survive the cap.
    crowd = [cookie(f"site{i % 5}", f"c{i:02d}", ips=[f"net.{i + 10}"]) for i in range(30)]
    crowd += [
        cookie("siteA", "a", ips=["net.1", "own.1"]),
        cookie("siteB", "b", ips=["net.2", "own.1"]),
    ]
    cap = 4
    rows = build_candidates(
        make_features(crowd), max_block_size=50, max_pairs_per_cookie=cap
    ).collect()

    assert ("siteA", "a", "siteB", "b") in {tuple(r[:4]) for r in rows}
    assert len(rows) <= 32 * cap
    paired = {r.cookie_id_l for r in rows} | {r.cookie_id_r for r in rows}
    assert len(paired) == 32  # nobody is left without a candidate
    uncapped = build_candidates(make_features(crowd), max_block_size=50, max_pairs_per_cookie=100)
    assert uncapped.count() == 32 * 31 // 2  # the whole block, the a-b pair merged in


def test_candidates_are_deterministic(make_features) -> None:  # type: ignore[no-untyped-def]
    world = random_world(11)
    first = build_candidates(make_features(world), max_block_size=20, max_pairs_per_cookie=3)
    again = build_candidates(
        make_features(list(reversed(world))).repartition(3),
        max_block_size=20,
        max_pairs_per_cookie=3,
    )
    assertDataFrameEqual(first, again)
