"""Keyed hashes of the IP network and address, login hashes, truncation and URL fields, against
Python oracles."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random

import pytest
from pyspark.sql import functions as F

from spark_jobs.etl import normalize

pytestmark = pytest.mark.spark

KEY = b"unit-test-key"
SEED = 20261121


def _random_ipv6(rng: random.Random) -> str:
    groups = [rng.choice([0, 0, 0, rng.randrange(1 << 16)]) for _ in range(8)]
    address = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
    # Every textual spelling of the address: compressed, exploded, upper-case.
    return rng.choice([address.compressed, address.exploded, address.compressed.upper()])


def _network_hash(network: str, version: int) -> str:
    """What ``ip_prefix`` holds: the version tag and the keyed hash of the network's text."""
    digest = hmac.new(KEY, f"{normalize.NETWORK_DOMAIN}{network}".encode(), "sha256").hexdigest()
    return f"v{version}:{digest}"


def _ip_rows(spark, values):  # type: ignore[no-untyped-def]
    df = spark.createDataFrame([(v,) for v in values], "ip string")
    out = normalize.with_ip_fields(df, column="ip", key=KEY)
    return {r.ip: r for r in out.collect()}


def test_ip_prefix_and_hash_match_python_ipaddress_and_hmac(spark) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)
    v4 = [str(ipaddress.IPv4Address(rng.randrange(1 << 32))) for _ in range(50)]
    v6 = [_random_ipv6(rng) for _ in range(150)]
    v6 += ["::", "::1", "2001:db8::", "0:0:5::7", "2001:0:5::", "64:ff9b::192.0.2.33"]
    rows = _ip_rows(spark, v4 + v6)
    for text in v4 + v6:
        address = ipaddress.ip_address(text)
        bits = 24 if address.version == 4 else 48
        expected_prefix = ipaddress.ip_network(f"{address}/{bits}", strict=False).compressed
        canonical = str(address) if address.version == 4 else address.exploded
        row = rows[text]
        assert row.ip_version == address.version, text
        assert row.ip_prefix == _network_hash(expected_prefix, address.version), text
        assert expected_prefix.split("/")[0] not in row.ip_prefix, text
        assert row.ip_hash == hmac.new(KEY, canonical.encode(), "sha256").hexdigest(), text


def test_spellings_of_one_address_hash_alike_and_mapped_v4_is_v4(spark) -> None:  # type: ignore[no-untyped-def]
    rows = _ip_rows(
        spark,
        [
            "2001:DB8::1",
            "2001:db8:0:0:0:0:0:1",
            "2001:0db8::0001",
            "::ffff:198.51.100.7",
            "198.51.100.7",
        ],
    )
    assert (
        len({rows[t].ip_hash for t in ["2001:DB8::1", "2001:db8:0:0:0:0:0:1", "2001:0db8::0001"]})
        == 1
    )
    assert rows["::ffff:198.51.100.7"].ip_version == 4
    assert rows["::ffff:198.51.100.7"].ip_hash == rows["198.51.100.7"].ip_hash
    assert rows["198.51.100.7"].ip_prefix == _network_hash("198.51.100.0/24", 4)
    assert rows["::ffff:198.51.100.7"].ip_prefix == rows["198.51.100.7"].ip_prefix


INVALID_ADDRESSES = [
    "256.1.1.1",
    "1.2.3",
    "01.2.3.4",
    "1.2.3.4.5",
    "abc",
    "",
    "1::2::3",
    "2001:db8:::1",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "12345::1",
    "fe80::1%eth0",
    ":1:2:3:4:5:6:7",
    "g::1",
    "::ffff:999.1.1.1",
]


def test_invalid_addresses_have_no_version(spark) -> None:  # type: ignore[no-untyped-def]
    rows = _ip_rows(spark, INVALID_ADDRESSES)
    for bad in INVALID_ADDRESSES:
        row = rows[bad]
        assert (row.ip_version, row.ip_prefix, row.ip_hash) == (None, None, None), bad


def test_hmac_pads_handle_long_keys() -> None:
    long_key = b"k" * 100
    inner, outer = normalize.hmac_pads(long_key)
    short = hashlib.sha256(long_key).digest().ljust(64, b"\0")
    assert bytes.fromhex(inner) == bytes(b ^ 0x36 for b in short)
    assert bytes.fromhex(outer) == bytes(b ^ 0x5C for b in short)


def test_login_hash_kept_when_hex_else_normalised_and_hashed(spark) -> None:  # type: ignore[no-untyped-def]
    good = hashlib.sha256(b"ann@example.com").hexdigest()
    cases = {
        good: (good, False),
        good.upper(): (good, False),
        "  Ann@Example.COM ": (good, True),
        "ann@example.com": (good, True),
        "": (None, False),
    }
    df = spark.createDataFrame([(k,) for k in cases] + [(None,)], "login string")
    got = {
        r.login: (r.n.value, r.n.rehashed)
        for r in df.select(
            "login", normalize.normalize_login_hash(F.col("login")).alias("n")
        ).collect()
    }
    assert got == {**cases, None: (None, False)}


def test_truncate_counts_only_too_long_values(spark) -> None:  # type: ignore[no-untyped-def]
    df = spark.createDataFrame([("a" * 10,), ("b" * 11,), (None,)], "t string")
    got = [
        tuple(r.x)
        for r in df.select(normalize.truncate(F.col("t"), max_length=10).alias("x")).collect()
    ]
    assert got == [("a" * 10, False), ("b" * 10, True), (None, False)]


def test_url_fields(spark) -> None:  # type: ignore[no-untyped-def]
    cases = [
        (
            "https://www.News.example/Sport/football?q=World+Cup&x=1&search=caf%C3%A9%20Paris",
            "https://search.example/?q=x",
            (
                "news.example",
                "/Sport/football",
                ["world", "cup", "café", "paris"],
                "sport",
                "search.example",
            ),
        ),
        ("https://shop.example/", None, ("shop.example", "/", [], None, None)),
        (
            "https://shop.example/cart?query=Red%2Cshoes&query2=no",
            None,
            ("shop.example", "/cart", ["red", "shoes"], "cart", None),
        ),
        ("not a url %zz", "also bad", (None, None, [], None, None)),
        (None, None, (None, None, None, None, None)),
    ]
    df = spark.createDataFrame([(u, r) for u, r, _ in cases], "url string, referrer string")
    rows = df.select(normalize.url_fields(F.col("url"), F.col("referrer")).alias("u")).collect()
    assert [tuple(r.u) for r in rows] == [expected for _, _, expected in cases]
