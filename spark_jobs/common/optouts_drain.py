"""Opt-outs recorded by the lookup service: applying them to a version, draining them to the lake.

The service appends every opt-out to the Redis stream ``keyspace.OPTOUTS_KEY`` before it
deletes anything, so the request is durable the moment it is acknowledged. The publish
stage calls ``drain_optouts`` first thing: pending entries are appended to the lake table
``optouts/dt=D`` (columns ``kind, site_id, cookie_id, login_hash, requested_at``), and only
after that write succeeds are they removed from the stream. Entries that arrive while a
publish is loading are applied to the new version (``apply_optouts``) right before it goes
live, and drained by the next publish.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from idgraph import keyspace as ks

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from idgraph.settings import AppSettings

log = logging.getLogger(__name__)

OPTOUTS_TABLE = "optouts"
_READ_CHUNK = 10_000


def stream_entries(
    client: Any, key: str, parse: Callable[[Any], dict[str, str]]
) -> list[tuple[bytes, dict[str, str]]]:
    """Every entry still in the stream ``key``, oldest first, as (stream id, parsed entry)."""
    entries: list[tuple[bytes, dict[str, str]]] = []
    start: bytes | str = "-"
    while True:
        chunk = client.xrange(key, min=start, count=_READ_CHUNK)
        entries.extend((eid, parse(fields)) for eid, fields in chunk)
        if len(chunk) < _READ_CHUNK:
            return entries
        start = b"(" + chunk[-1][0]


def pending_optouts(client: Any) -> list[tuple[bytes, dict[str, str]]]:
    """Every opt-out still in the stream, oldest first, as (stream id, entry)."""
    return stream_entries(client, ks.OPTOUTS_KEY, ks.parse_optout)


def apply_optouts(client: Any, version: ks.GraphVersion, entries: Iterable[dict[str, str]]) -> int:
    """Delete the cookies of ``entries`` from ``version``; return how many fields went away."""
    deletes: list[tuple[bytes, bytes]] = []
    logins = []
    for entry in entries:
        if entry["kind"] == "cookie":
            deletes.append(ks.cookie_location(version, entry["site_id"], entry["cookie_id"]))
        else:
            location = ks.login_location(version, entry["login_hash"])
            if location is not None:
                logins.append(location)
    if logins:
        pipe = client.pipeline(transaction=False)
        for key, field in logins:
            pipe.hget(key, field)
        for raw in pipe.execute():
            deletes += [ks.digest_location(version, d) for d in ks.decode_digests(raw or b"")]
    if not deletes:
        return 0
    pipe = client.pipeline(transaction=False)
    for key, field in deletes:
        pipe.hdel(key, field)
    return sum(int(n) for n in pipe.execute())


def _rows(entries: list[tuple[bytes, dict[str, str]]]) -> list[tuple[Any, ...]]:
    rows = []
    for _, e in entries:
        try:
            requested = dt.datetime.fromisoformat(e["requested_at"])
        except ValueError:
            requested = None
        if requested is not None and requested.tzinfo is not None:
            requested = requested.astimezone(dt.UTC).replace(tzinfo=None)  # session tz is UTC
        rows.append(
            (
                e["kind"],
                e["site_id"] or None,
                e["cookie_id"] or None,
                e["login_hash"] or None,
                requested,
            )
        )
    return rows


def drain_optouts(spark: SparkSession, settings: AppSettings, day: dt.date, *, client: Any) -> int:
    """Append pending stream opt-outs to ``optouts/dt=day``, then remove them from the stream.

    Idempotent: the day's partition is rewritten as (existing rows ∪ drained rows) without
    duplicates, so a crash between the write and the stream trim only re-drains the same
    rows. Called by ``spark_jobs.graph.publish.run_publish`` before it loads the graph.

    Returns:
        Opt-outs drained.
    """
    from spark_jobs.common.io import partition_exists, read_partition, write_partition
    from spark_jobs.common.optouts import OPTOUTS
    from spark_jobs.common.paths import Lake

    entries = pending_optouts(client)
    if not entries:
        return 0
    lake = Lake(settings.lake.root)
    drained: DataFrame = spark.createDataFrame(_rows(entries), OPTOUTS)
    if partition_exists(spark, lake, OPTOUTS_TABLE, day):
        existing = read_partition(spark, lake, OPTOUTS_TABLE, day).select(*drained.columns)
        # Materialise before overwriting the partition we read from.
        drained = existing.unionByName(drained).dropDuplicates().localCheckpoint(eager=True)
    write_partition(drained.coalesce(1), lake, OPTOUTS_TABLE, day)
    ids = [eid for eid, _ in entries]
    for start in range(0, len(ids), _READ_CHUNK):
        client.xdel(ks.OPTOUTS_KEY, *ids[start : start + _READ_CHUNK])
    log.info("drained %d opt-outs into %s/dt=%s", len(entries), OPTOUTS_TABLE, day)
    return len(entries)
