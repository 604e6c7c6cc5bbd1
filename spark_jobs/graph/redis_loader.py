"""Bulk load of one graph version into Redis, per Spark partition.

``encode_cookies``, ``encode_logins`` and ``encode_people`` turn rows into
``(bucket, field, value)`` with the shared keyspace codec in an Arrow batch function;
``load_buckets`` shuffles them so that each bucket lives in exactly one partition, sorted by
bucket, and has them written by one client per partition (``spark_jobs.graph.writers``): each
bucket as one ``RESTORE`` of its finished listpack, or one ``HSET`` with all its fields.

The Redis side (targets, registering, verifying, switching, retiring and rolling back
versions, the publish lock) needs no Spark: ``idgraph.core.versions``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from idgraph.core import keyspace as ks
from idgraph.core.versions import RedisTarget
from spark_jobs.graph.writers import bucket_writer

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

BUCKET_SCHEMA = "bucket int, field binary, value binary"
STATS_SCHEMA = "rows long, added long, buckets long, max_bucket long, max_value long"


def cookie_batch_encoder(buckets: int) -> Callable[[Iterator[pa.RecordBatch]], Iterator]:
    """Arrow batch function: graph rows -> ``(bucket, field, value)`` with ``buckets`` buckets.

    Vectorised (``idgraph.core.keyspace_batch``), byte for byte what ``keyspace`` gives per row.
    """

    def encode(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from idgraph.core import keyspace_batch

        for batch in batches:
            yield keyspace_batch.encode_cookie_batch(batch, buckets)

    return encode


def encode_cookies(graph: DataFrame, *, buckets: int) -> DataFrame:
    """Identity-graph rows -> ``(bucket, field, value)`` of the cookie hashes.

    Args:
        graph: rows with ``site_id, cookie_id, unified_id, confidence`` and, from graphs with
            households, ``household_id`` (absent: no household in the values).
        buckets: the version's cookie bucket count.
    """
    from pyspark.sql import functions as F

    household = (
        F.col("household_id")
        if "household_id" in graph.columns
        else F.lit(None).cast("string").alias("household_id")
    )
    cols = graph.select("site_id", "cookie_id", "unified_id", "confidence", household)
    return cols.mapInArrow(cookie_batch_encoder(buckets), BUCKET_SCHEMA)


def _digests_by(key: str, digest: Callable[[str], bytes]) -> Callable[[Iterator], Iterator]:
    """Arrow batch function: rows -> ``(key, cookie)``: ``digest`` of column ``key``, and the
    cookie digest of ``site_id, cookie_id`` (what an index entry of ``key`` lists)."""

    def encode(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        for batch in batches:
            cols = batch.to_pydict()
            keys = [digest(v) for v in cols[key]]
            cookies = [
                ks.cookie_digest(s, c)
                for s, c in zip(cols["site_id"], cols["cookie_id"], strict=True)
            ]
            yield pa.RecordBatch.from_arrays(
                [pa.array(keys, pa.binary()), pa.array(cookies, pa.binary())],
                names=["key", "cookie"],
            )

    return encode


def _encode_index_batches(buckets: int) -> Callable[[Iterator[pa.RecordBatch]], Iterator]:
    def encode(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        for batch in batches:
            cols = batch.to_pydict()
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array([ks.bucket_of(d, buckets) for d in cols["key"]], pa.int32()),
                    pa.array([ks.field_of(d) for d in cols["key"]], pa.binary()),
                    pa.array([ks.encode_digests(c) for c in cols["cookies"]], pa.binary()),
                ],
                names=["bucket", "field", "value"],
            )

    return encode


def _encode_index(
    rows: DataFrame, key: str, digest: Callable[[str], bytes], *, buckets: int, least: int
) -> DataFrame:
    """Rows -> ``(bucket, field, value)`` of an index: one field per ``digest`` of column
    ``key`` listed by ``least`` distinct cookies or more, its value their digests."""
    from pyspark.sql import functions as F

    digests = rows.select(key, "site_id", "cookie_id").mapInArrow(
        _digests_by(key, digest), "key binary, cookie binary"
    )
    grouped = digests.groupBy("key").agg(F.collect_set("cookie").alias("cookies"))
    if least > 1:
        grouped = grouped.where(F.size("cookies") >= least)
    return grouped.mapInArrow(_encode_index_batches(buckets), BUCKET_SCHEMA)


def encode_logins(login_cookies: DataFrame, *, buckets: int) -> DataFrame:
    """``(login_hash, site_id, cookie_id)`` rows -> ``(bucket, field, value)`` of the login index.

    Args:
        login_cookies: every cookie an opt-out by ``login_hash`` must remove, one row each.
        buckets: the version's login bucket count.
    """
    return _encode_index(login_cookies, "login_hash", ks.login_digest, buckets=buckets, least=1)


def people_with_cookies(graph: DataFrame) -> int:
    """Unified ids of ``graph`` with two cookies or more: the person index's entries."""
    return graph.groupBy("unified_id").count().where("count > 1").count()


def encode_people(graph: DataFrame, *, buckets: int) -> DataFrame:
    """Identity-graph rows -> ``(bucket, field, value)`` of the person index.

    One field per unified id with two cookies or more, its value the digests of all its
    cookies: what an opt-out of any one of them removes. A person of one cookie needs no
    entry (the opt-out names that cookie already).

    Args:
        graph: rows with ``site_id, cookie_id, unified_id``.
        buckets: the version's person bucket count.
    """
    return _encode_index(graph, "unified_id", ks.person_digest, buckets=buckets, least=2)


def load_buckets(
    encoded: DataFrame,
    *,
    target: RedisTarget,
    version: str,
    kind: str,
    partitions: int,
    batch_fields: int,
    write_mode: str = "restore",
    rdb_version: int | None = None,
) -> dict[str, int]:
    """Write encoded buckets to Redis from the executors; return the summed writer stats.

    Args:
        encoded: output of ``encode_cookies`` or ``encode_logins``.
        target: the Redis server or cluster.
        version: version name the keys belong to.
        kind: ``"cookie"``, ``"login"`` or ``"person"`` (which key family).
        partitions: parallel writers (one client each).
        batch_fields: fields per pipeline flush.
        write_mode: ``"restore"`` or ``"hset"`` (see ``bucket_writer``).
        rdb_version: the server's RDB version for ``"restore"``; None: each writer probes.

    Returns:
        ``rows`` written, ``added`` (fields restored, or new fields acknowledged by
        ``HSET``: fewer than ``rows`` when a field repeats within a bucket), ``buckets``,
        ``max_bucket`` (largest bucket) and ``max_value`` (longest value, bytes).
    """
    from pyspark.sql import functions as F

    stats = (
        encoded.repartition(partitions, "bucket")  # every bucket in exactly one partition
        .sortWithinPartitions("bucket")  # ... and contiguous: one command per bucket
        .mapInArrow(
            bucket_writer(target, version, kind, batch_fields, write_mode, rdb_version),
            STATS_SCHEMA,
        )
        .agg(
            F.sum("rows").alias("rows"),
            F.sum("added").alias("added"),
            F.sum("buckets").alias("buckets"),
            F.max("max_bucket").alias("max_bucket"),
            F.max("max_value").alias("max_value"),
        )
        .first()
    )
    assert stats is not None
    return {k: int(v or 0) for k, v in stats.asDict().items()}
