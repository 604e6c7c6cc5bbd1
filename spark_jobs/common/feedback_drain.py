"""Verdicts recorded by the lookup service: draining the stream into the lake table ``feedback``.

The service appends every accepted verdict to ``keyspace.FEEDBACK_KEY`` before it answers 202.
The publish stage calls ``drain_feedback`` (beside ``drain_optouts``): the pending entries are
appended to ``feedback/dt=D`` and only after that write succeeds removed from the stream. An
entry the service would never have written (an unknown verdict, a missing cookie, one cookie
twice, an unreadable time: another writer, an older version) is kept with its ``problem`` and
counted, never used and never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from idgraph.core import keyspace as ks
from idgraph.core.lake import Lake
from spark_jobs.common.feedback import FEEDBACK, FEEDBACK_TABLE
from spark_jobs.common.io import partition_exists, read_partition, write_partition
from spark_jobs.common.optouts_drain import stream_entries

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from idgraph.core.settings import AppSettings

log = logging.getLogger(__name__)

_READ_CHUNK = 10_000
_ID = re.compile(r"[A-Za-z0-9._~:@+=\-]{1,128}")  # the service's id rule (lookup_service.models)
REASON_MAX = 500


def pending_feedback(client: Any) -> list[tuple[bytes, dict[str, str]]]:
    """Every verdict still in the stream, oldest first, as (stream id, entry)."""
    return stream_entries(client, ks.FEEDBACK_KEY, ks.parse_feedback)


def _received(text: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)  # the session time zone is UTC
    return value


def problem_of(entry: dict[str, str], received: dt.datetime | None) -> str | None:
    """Why a stream entry cannot be used (None: it can)."""
    ids = (entry["site_id_a"], entry["cookie_id_a"], entry["site_id_b"], entry["cookie_id_b"])
    if not all(ids):
        return "missing_cookie"
    if not all(_ID.fullmatch(i) for i in ids):
        return "bad_id"
    if ids[:2] == ids[2:]:
        return "same_cookie"
    if entry["verdict"] not in ks.FEEDBACK_VERDICTS:
        return "bad_verdict"
    if not entry["key_id"]:
        return "missing_key_id"
    if received is None:
        return "bad_received_at"
    return None


def feedback_rows(entries: list[tuple[bytes, dict[str, str]]]) -> list[tuple[Any, ...]]:
    """Rows of ``FEEDBACK`` for stream entries (pure Python, one per entry)."""
    rows = []
    for eid, e in entries:
        received = _received(e["received_at"])
        rows.append(
            (
                e["site_id_a"] or None,
                e["cookie_id_a"] or None,
                e["site_id_b"] or None,
                e["cookie_id_b"] or None,
                e["verdict"] or None,
                e["reason"][:REASON_MAX] or None,
                e["key_id"] or None,
                received,
                eid.decode() if isinstance(eid, bytes) else str(eid),
                problem_of(e, received),
            )
        )
    return rows


def drain_feedback(
    spark: SparkSession, settings: AppSettings, day: dt.date, *, client: Any
) -> dict[str, int]:
    """Append pending verdicts to ``feedback/dt=day``, then remove them from the stream.

    Idempotent like ``drain_optouts``: the day's partition is rewritten as existing rows plus
    drained rows without duplicates (the stream id is part of each row), so a crash between
    the write and the trim re-drains the same rows.

    Returns:
        ``feedback_drained`` (every entry) and ``feedback_unusable`` (entries with a problem).
    """
    entries = pending_feedback(client)
    if not entries:
        return {"feedback_drained": 0, "feedback_unusable": 0}
    rows = feedback_rows(entries)
    lake = Lake(settings.lake.root)
    drained = spark.createDataFrame(rows, FEEDBACK)
    if partition_exists(spark, lake, FEEDBACK_TABLE, day):
        existing = read_partition(spark, lake, FEEDBACK_TABLE, day).select(*FEEDBACK.fieldNames())
        # Materialise before overwriting the partition we read from.
        drained = existing.unionByName(drained).dropDuplicates().localCheckpoint(eager=True)
    write_partition(drained.coalesce(1), lake, FEEDBACK_TABLE, day)
    ids = [eid for eid, _ in entries]
    for start in range(0, len(ids), _READ_CHUNK):
        client.xdel(ks.FEEDBACK_KEY, *ids[start : start + _READ_CHUNK])
    problems = Counter(row[-1] for row in rows if row[-1] is not None)
    log.info(
        "drained %d verdicts into %s/dt=%s (%d unusable%s)",
        len(rows),
        FEEDBACK_TABLE,
        day,
        sum(problems.values()),
        "".join(f", {n} {p}" for p, n in sorted(problems.items())),
    )
    return {"feedback_drained": len(rows), "feedback_unusable": sum(problems.values())}
