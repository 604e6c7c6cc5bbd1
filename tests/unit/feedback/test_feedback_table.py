"""The feedback stream drained into the lake, and what readers make of it (real Valkey, Spark)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import redis

from idgraph.core import keyspace as ks
from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from spark_jobs.common.feedback import cannot_links, feedback_labels, read_feedback
from spark_jobs.common.feedback_drain import drain_feedback

pytestmark = [pytest.mark.spark, pytest.mark.redis]
D1, D2 = dt.date(2026, 5, 1), dt.date(2026, 5, 2)


def _send(client: redis.Redis, a: str, b: str, verdict: str, at: str, key: str = "k1") -> None:
    entry = ks.feedback_entry(
        a=("s1", a), b=("s2", b), verdict=verdict, key_id=ks.api_key_id(key), received_at=at
    )
    client.xadd(ks.FEEDBACK_KEY, entry)


def test_drain_read_latest_verdict_and_labels(spark: Any, client: redis.Redis, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(str(tmp_path / "lake"))
    settings = load_settings(lake={"root": lake.root})
    _send(client, "x", "y", "different_people", "2026-05-01T10:00:00.000+00:00")
    _send(client, "p", "q", "different_people", "2026-05-01T10:00:00.000+00:00")
    # The same pair the other way round, an hour later (11:00 UTC), from another key: it lifts
    # the verdict.
    client.xadd(
        ks.FEEDBACK_KEY,
        ks.feedback_entry(
            a=("s2", "q"), b=("s1", "p"), verdict="same_person",
            key_id=ks.api_key_id("k2"), received_at="2026-05-01T13:00:00.000+02:00",
        ),
    )  # fmt: skip
    client.xadd(ks.FEEDBACK_KEY, {"verdict": "maybe", "site_id_a": "s1"})  # not the service's
    assert drain_feedback(spark, settings, D1, client=client) == {
        "feedback_drained": 4,
        "feedback_unusable": 1,
    }
    assert client.xlen(ks.FEEDBACK_KEY) == 0  # removed only after the lake write
    table = read_feedback(spark, lake)
    assert table.count() == 4
    assert [r["problem"] for r in table.where("problem is not null").collect()] == [
        "missing_cookie"
    ]
    # Drained again after a crash before the trim: no duplicate rows.
    _send(client, "x", "y", "different_people", "2026-05-01T10:00:00.000+00:00")
    stream_id = client.xrange(ks.FEEDBACK_KEY)[0][0]
    first_id = table.where("cookie_id_a = 'x'").first()["stream_id"]  # type: ignore[index]
    assert stream_id.decode() != first_id  # a new entry: a new row (the pair dedups in readers)
    drain_feedback(spark, settings, D2, client=client)
    assert read_feedback(spark, lake, as_of=D1).count() == 4
    assert read_feedback(spark, lake, as_of=D2).count() == 5

    # Graph D1 sees what was drained by D1: the p/q verdict was lifted by the later one.
    pairs = {tuple(r) for r in cannot_links(spark, lake, D1).collect()}
    assert pairs == {("s1", "x", "s2", "y")}
    assert cannot_links(spark, lake, D1 - dt.timedelta(days=1)).count() == 0

    labels = feedback_labels(spark, lake, D2, max_share_per_key=0.5)
    got = {
        (r["cookie_id_l"], r["cookie_id_r"]): (r["label"], r["weight"]) for r in labels.collect()
    }
    assert got == {("x", "y"): (0, 1.0), ("p", "q"): (1, 1.0)}  # one row per pair, latest verdict
    assert labels.columns == [
        "site_id_l", "cookie_id_l", "site_id_r", "cookie_id_r", "label", "weight", "received_at"
    ]  # fmt: skip


def test_drain_with_nothing_pending_writes_nothing(
    spark: Any, client: redis.Redis, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(str(tmp_path / "lake"))
    settings = load_settings(lake={"root": lake.root})
    assert drain_feedback(spark, settings, D1, client=client)["feedback_drained"] == 0
    assert read_feedback(spark, lake).count() == 0
    assert cannot_links(spark, lake, D1).count() == 0
