"""User-agent fields from real user-agent strings, parsed once per distinct string."""

from __future__ import annotations

import re

import pytest

from spark_jobs.etl.useragent import device_type, user_agent_table, with_user_agent_fields

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
)
WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
ANDROID_PHONE = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36"
)
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
LINUX_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
GOOGLEBOT = "Googlebot/2.1 (+http://www.google.com/bot.html)"

EXPECTED = {
    IPHONE: ("Mobile Safari", 17, "iOS", "mobile"),
    IPAD: ("Mobile Safari", 16, "iOS", "tablet"),
    WINDOWS_CHROME: ("Chrome", 124, "Windows", "desktop"),
    ANDROID_PHONE: ("Chrome Mobile", 124, "Android", "mobile"),
    ANDROID_TABLET: ("Chrome", 123, "Android", "tablet"),
    MAC_SAFARI: ("Safari", 17, "Mac OS X", "desktop"),
    LINUX_FIREFOX: ("Firefox", 125, "Linux", "desktop"),
    GOOGLEBOT: ("Googlebot", 2, "Other", "other"),
    "curl/8.5.0": ("curl", 8, "Other", "other"),
}


@pytest.mark.spark
def test_real_user_agents_parse_once_each_and_join_back(spark) -> None:  # type: ignore[no-untyped-def]
    events = spark.createDataFrame(
        [(f"e{i}", ua) for i, ua in enumerate(list(EXPECTED) * 3)],
        "event_id string, user_agent string",
    )
    table = user_agent_table(events)
    assert table.count() == len(EXPECTED)  # distinct strings only
    joined = with_user_agent_fields(events, table)
    assert joined.count() == events.count()
    got = {
        r.user_agent: (r.ua_family, r.ua_major, r.os_family, r.device_type)
        for r in joined.select(
            "user_agent", "ua_family", "ua_major", "os_family", "device_type"
        ).collect()
    }
    assert got == EXPECTED
    # The exact string, hashed: 16 lowercase hex digits, one per distinct user agent.
    hashes = {r.user_agent: r.ua_hash for r in joined.select("user_agent", "ua_hash").collect()}
    assert all(re.fullmatch(r"[0-9a-f]{16}", h) for h in hashes.values())
    assert len(set(hashes.values())) == len(EXPECTED)


@pytest.mark.parametrize(
    ("ua", "os_family", "device_family", "brand", "expected"),
    [
        ("x", "Android", "Generic", None, "tablet"),
        ("x Mobile y", "Android", "Generic", None, "mobile"),
        ("Kindle", "Android", "Kindle", "Amazon", "tablet"),
        ("x", "iOS", "iPhone", "Apple", "mobile"),
        ("x", "Windows", None, None, "desktop"),
        ("x", "Other", "Spider", "Spider", "other"),
        ("x", None, None, None, "other"),
    ],
)
def test_device_type_rules(ua: str, os_family, device_family, brand, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert (
        device_type(ua, os_family=os_family, device_family=device_family, device_brand=brand)
        == expected
    )
