"""Every bad-input rule of docs/bad-input.md on hand-made raw lines: status, reason and warnings."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
from pyspark.sql import functions as F

from idgraph.core.settings import load_settings
from spark_jobs.etl import rules
from spark_jobs.etl.job import classify_lines

pytestmark = pytest.mark.spark

DAY = dt.date(2026, 11, 20)
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
IP = "203.0.113.9"


def event(event_id: str, /, **changes: object) -> str:
    """A valid raw line for DAY, with ``changes`` applied (``None`` removes a field)."""
    fields: dict[str, object] = {
        "event_id": event_id,
        "ts": "2026-11-20T12:00:00Z",
        "site_id": "site-a",
        "cookie_id": f"cookie-{event_id}",
        "ip": IP,
        "user_agent": UA,
        "url": "https://a.example/news/x?q=hello",
        "consent": True,
    }
    fields.update(changes)
    return json.dumps({k: v for k, v in fields.items() if v is not None}, ensure_ascii=False)


# (line, expected status, expected reason, expected warnings)
CASES: dict[str, tuple[str | bytes, str, str | None, set[str]]] = {
    "good": (event("good"), "visit", None, set()),
    "epoch_millis": (event("epoch", ts=1795176000000), "visit", None, set()),
    "offset": (event("offset", ts="2026-11-20T14:00:00+02:00"), "visit", None, set()),
    "late_within_window": (event("late", ts="2026-11-19T01:00:00Z"), "visit", None, set()),
    "early_next_day_within_hour": (event("next", ts="2026-11-21T00:59:00Z"), "visit", None, set()),
    "not_json": ("this is not json", "quarantine", "malformed_json", set()),
    "array": ("[1, 2, 3]", "quarantine", "malformed_json", set()),
    "trailing_garbage": (event("tg") + " trailing", "quarantine", "malformed_json", set()),
    "consent_wrong_type": (event("cw", consent="no"), "quarantine", "malformed_json", set()),
    "empty_line": ("", "quarantine", "malformed_json", set()),
    "missing_event_id": (event("x", event_id=None), "quarantine", "missing_event_id", set()),
    "missing_ts": (event("mts", ts=None), "quarantine", "missing_ts", set()),
    "empty_site_id": (event("msi", site_id=""), "quarantine", "missing_site_id", set()),
    "blank_cookie_id": (event("mci", cookie_id="  "), "quarantine", "missing_cookie_id", set()),
    "missing_ip": (event("mip", ip=None), "quarantine", "missing_ip", set()),
    "missing_user_agent": (
        event("mua", user_agent=None),
        "quarantine",
        "missing_user_agent",
        set(),
    ),
    "missing_first_wins": (
        event("x", event_id="", ip="bad"),
        "quarantine",
        "missing_event_id",
        set(),
    ),
    "ts_garbage": (event("tsg", ts="yesterday"), "quarantine", "bad_ts", set()),
    "ts_without_offset": (event("tsl", ts="2026-11-20T12:00:00"), "quarantine", "bad_ts", set()),
    "ts_too_late": (event("tsf", ts="2026-11-21T01:00:01Z"), "quarantine", "bad_ts", set()),
    "ts_too_early": (event("tse", ts="2026-11-18T23:59:59Z"), "quarantine", "bad_ts", set()),
    "bad_ip": (event("bip", ip="300.1.2.3"), "quarantine", "bad_ip", set()),
    "no_consent": (event("nc", consent=False), "no_consent", None, set()),
    "null_consent_is_kept": (event("ncn", consent=None), "visit", None, set()),
    "raw_email_login": (
        event("em", login_hash="Ann@Example.com"),
        "visit",
        None,
        {"login_hash_rehashed"},
    ),
    "long_user_agent": (
        event("lua", user_agent=UA + "x" * 3000),
        "visit",
        None,
        {"user_agent_truncated"},
    ),
    "long_url": (
        event("lurl", url="https://a.example/" + "p" * 3000),
        "visit",
        None,
        {"url_truncated"},
    ),
    "non_utf8": (
        event("nu", city="Caf\u00e9").encode().replace(b"\xc3\xa9", b"\xe9"),
        "visit",
        None,
        {"non_utf8"},
    ),
}


def classify(spark, lines, previous_ids=None):  # type: ignore[no-untyped-def]
    """Run the line rules and duplicate check on raw ``lines`` (str or bytes)."""
    data = [(line if isinstance(line, bytes) else line.encode(),) for line in lines]
    raw = spark.createDataFrame(data, "b binary").select(F.col("b").cast("string").alias("value"))
    previous = (
        spark.createDataFrame([(i,) for i in previous_ids], "event_id string")
        if previous_ids
        else None
    )
    return classify_lines(raw, day=DAY, settings=load_settings(), previous_event_ids=previous)


def test_each_bad_input_gets_its_status_reason_and_warnings(spark) -> None:  # type: ignore[no-untyped-def]
    names = list(CASES)
    df = classify(spark, [CASES[n][0] for n in names])
    rows = df.collect()
    assert len(rows) == len(names)
    got = {}
    for r in rows:
        warnings = {w for w in rules.WARNINGS if r[f"warn_{w}"]}
        got[r.event_id if r.status != "quarantine" else r.raw] = (r.status, r.reason, warnings)
    for name in names:
        line, status, reason, warnings = CASES[name]
        text = line.decode(errors="replace") if isinstance(line, bytes) else line
        key = json.loads(text)["event_id"] if status != "quarantine" else text
        assert got[key] == (status, reason, warnings), name


def test_visit_values_are_normalised(spark) -> None:  # type: ignore[no-untyped-def]
    lines = [
        CASES["offset"][0],
        CASES["epoch_millis"][0],
        CASES["raw_email_login"][0],
        CASES["long_user_agent"][0],
        CASES["non_utf8"][0],
    ]
    rows = {r.event_id: r for r in classify(spark, lines).collect()}
    assert rows["offset"].ts == dt.datetime(2026, 11, 20, 12, 0)  # UTC (session time zone)
    assert rows["epoch"].ts == dt.datetime(2026, 11, 20, 12, 0)
    assert rows["em"].login_hash == hashlib.sha256(b"ann@example.com").hexdigest()
    assert len(rows["lua"].user_agent) == 2048
    assert rows["nu"].city == "Caf\ufffd"
    key = load_settings().etl.ip_hash_key.get_secret_value().encode()
    network = hmac.new(key, b"net:203.0.113.0/24", "sha256").hexdigest()
    assert rows["offset"].ip_prefix == f"v4:{network}"  # the network's keyed hash, not its text
    assert all(r.raw is None for r in rows.values())


def test_no_raw_ip_or_email_survives(spark) -> None:  # type: ignore[no-untyped-def]
    df = classify(spark, [CASES["good"][0], CASES["raw_email_login"][0]]).where("status = 'visit'")
    text = " ".join(str(v) for r in df.drop("raw").collect() for v in r)
    assert IP not in text and "203.0.113.9" not in text
    assert "@" not in text.replace("Mozilla", "")


def test_duplicates_same_day_and_previous_day(spark) -> None:  # type: ignore[no-untyped-def]
    lines = [
        event("d1", ts="2026-11-20T10:00:00Z", cookie_id="second"),
        event("d1", ts="2026-11-20T09:00:00Z", cookie_id="first"),
        event("d1", ts="2026-11-20T11:00:00Z", cookie_id="third"),
        event("old", ts="2026-11-19T23:00:00Z"),  # delivered again: already stored yesterday
        event("nc", consent=False),
        event("nc", consent=False),
        "garbage",
        "garbage",  # identical bad lines are each quarantined, never de-duplicated
    ]
    rows = classify(spark, lines, previous_ids=["old", "unrelated"]).collect()
    by_status = sorted(
        (r.status, r.event_id, r.cookie_id, r.duplicate_of_previous_day) for r in rows
    )
    assert by_status == sorted(
        [
            ("visit", "d1", "first", False),
            ("duplicate", "d1", "second", False),
            ("duplicate", "d1", "third", False),
            ("duplicate", "old", "cookie-old", True),
            ("no_consent", "nc", "cookie-nc", False),
            ("duplicate", "nc", "cookie-nc", False),
            ("quarantine", None, None, False),
            ("quarantine", None, None, False),
        ]
    )


def test_reconcile_counts_every_line_once(spark) -> None:  # type: ignore[no-untyped-def]
    lines = [case[0] for case in CASES.values()] + [event("good"), event("good")]
    counts = rules.reconcile(classify(spark, lines, previous_ids=["epoch"])).first().asDict()
    n_quarantine = sum(1 for c in CASES.values() if c[1] == "quarantine")
    assert counts["lines_read"] == len(lines)
    assert counts["quarantined"] == n_quarantine
    assert counts["duplicates_dropped"] == 3 and counts["duplicates_previous_day"] == 1
    assert counts["no_consent_dropped"] == 1
    assert counts["visits"] == len(lines) - n_quarantine - 3 - 1
    for reason in rules.REASONS:
        expected = sum(1 for c in CASES.values() if c[2] == reason)
        assert counts[f"quarantine_{reason}"] == expected, reason
    for warning in rules.WARNINGS:
        assert counts[f"warn_{warning}"] == 1, warning
