"""Opt-outs recorded by the lookup service: applying them to a version, draining them to the lake.

The service appends every opt-out to the Redis stream ``keyspace.OPTOUTS_KEY`` before it
deletes anything, so the request is durable the moment it is acknowledged. The publish
stage calls ``drain_optouts`` first thing: pending entries are appended to the lake table
``optouts/dt=D`` (columns ``kind, site_id, cookie_id, login_hash, requested_at``), and only
after that write succeeds are they removed from the stream. Entries that arrive while a
publish is loading are applied to the new version (``apply_optouts``) right before it goes
live, and drained by the next publish. Both the service and ``apply_optouts`` delete by one
rule, ``idgraph.core.optout_rule``: an opt-out removes the whole person (every cookie of the
unified id), and the drain writes that person's cookies and login hashes into the table.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from idgraph.core import keyspace as ks
from idgraph.core import optout_rule
from idgraph.core.lake import Lake
from spark_jobs.common.io import list_partitions, partition_exists, read_partition, write_partition
from spark_jobs.common.optouts import OPTOUTS, people_of

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from idgraph.core.settings import AppSettings

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
    """Delete the people of ``entries`` from ``version`` (``idgraph.core.optout_rule``).

    Returns:
        Cookies deleted.
    """
    return optout_rule.remove_sync(client, version, entries)


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


def _graph_days(spark: SparkSession, lake: Lake, day: dt.date, client: Any) -> list[dt.date]:
    """The graphs an opt-out drained on ``day`` is read against: the live version's (the one
    the service answered from and deleted in) and the newest built on or before ``day``."""
    built = [d for d in list_partitions(spark, lake, "identity_graph") if d <= day]
    days = set(built[-1:])
    live, _ = ks.decode_live(client.get(ks.LIVE_KEY))
    if live is not None and live.day:
        live_day = dt.date.fromisoformat(live.day)
        if live_day in built:
            days.add(live_day)
    return sorted(days)


def _people(spark: SparkSession, lake: Lake, requests: DataFrame, days: list[dt.date]) -> DataFrame:
    """``requests`` with the rows that opt their whole people out (``optouts.people_of``)."""
    graph = logins = None
    for day in days:
        g = read_partition(spark, lake, "identity_graph", day).select(
            "site_id", "cookie_id", "unified_id"
        )
        graph = g if graph is None else graph.unionByName(g)
        if partition_exists(spark, lake, "cookie_features", day):
            f = read_partition(spark, lake, "cookie_features", day).select(
                "site_id", "cookie_id", "login_hash"
            )
            logins = f if logins is None else logins.unionByName(f)
    if graph is None:
        return requests
    if logins is None:
        logins = spark.createDataFrame([], "site_id string, cookie_id string, login_hash string")
    return people_of(requests, graph, logins)


def drain_optouts(spark: SparkSession, settings: AppSettings, day: dt.date, *, client: Any) -> int:
    """Append pending stream opt-outs, with their people, to ``optouts/dt=day``, then remove
    them from the stream.

    Each opt-out comes with the rows of its people (``optouts.people_of``: every cookie of
    the unified ids it touches and the login hashes only they carried), read against the
    live version's graph and the newest one, so every later graph leaves those people out.

    Idempotent: the day's partition is rewritten as (existing rows ∪ drained rows) without
    duplicates, so a crash between the write and the stream trim only re-drains the same
    rows. Called by ``spark_jobs.graph.publish.run_publish`` before it loads the graph.

    Returns:
        Opt-outs drained (stream entries, not the rows they brought in).
    """
    entries = pending_optouts(client)
    if not entries:
        return 0
    lake = Lake(settings.lake.root)
    requests = spark.createDataFrame(_rows(entries), OPTOUTS)
    drained = _people(spark, lake, requests, _graph_days(spark, lake, day, client))
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
