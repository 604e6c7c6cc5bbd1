"""Bulk load of one graph version into Redis, per Spark partition, and version bookkeeping.

Spark side (``encode_cookies``, ``encode_logins``, ``load_buckets``): rows become
``(bucket, field, value)`` with the shared keyspace codec in an Arrow batch function,
are shuffled so that each bucket lives in exactly one partition, sorted by bucket, and
written by one client per partition (``spark_jobs.graph.writers``): each bucket as one
``RESTORE`` of its finished listpack, or one ``HSET`` with all its fields.

Redis side (``RedisTarget`` and the functions below it) needs no Spark: registering,
verifying, switching and retiring versions, used by ``publish`` and ``idgraph rollback``.
The switch is one Lua compare-and-set over the ``{ctl}`` keys, atomic on a cluster too.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from idgraph import keyspace as ks
from spark_jobs.graph.writers import bucket_writer

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

_PIPELINE_CHUNK = 5000  # commands per pipeline round trip in driver-side bulk operations


@dataclasses.dataclass(frozen=True)
class RedisTarget:
    """Where to write; picklable so Spark can ship it to executors."""

    url: str
    cluster: bool = False
    socket_timeout_s: float = 30.0

    def client(self) -> Any:
        """A fresh synchronous client (standalone or cluster)."""
        if self.cluster:
            from redis.cluster import RedisCluster

            return RedisCluster.from_url(self.url, socket_timeout=self.socket_timeout_s)
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=self.socket_timeout_s)


# --------------------------------------------------------------------------- Spark side

BUCKET_SCHEMA = "bucket int, field binary, value binary"
STATS_SCHEMA = "rows long, added long, buckets long, max_bucket long, max_value long"


def cookie_batch_encoder(buckets: int) -> Callable[[Iterator[pa.RecordBatch]], Iterator]:
    """Arrow batch function: graph rows -> ``(bucket, field, value)`` with ``buckets`` buckets.

    Vectorised (``idgraph.keyspace_batch``), byte for byte what ``keyspace`` gives per row.
    """

    def encode(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from idgraph import keyspace_batch

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


def _digest_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    for batch in batches:
        cols = batch.to_pydict()
        logins = [ks.login_digest(h) for h in cols["login_hash"]]
        cookies = [
            ks.cookie_digest(s, c) for s, c in zip(cols["site_id"], cols["cookie_id"], strict=True)
        ]
        yield pa.RecordBatch.from_arrays(
            [pa.array(logins, pa.binary()), pa.array(cookies, pa.binary())],
            names=["login", "cookie"],
        )


def _encode_login_batches(buckets: int) -> Callable[[Iterator[pa.RecordBatch]], Iterator]:
    def encode(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        for batch in batches:
            cols = batch.to_pydict()
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array([ks.bucket_of(d, buckets) for d in cols["login"]], pa.int32()),
                    pa.array([ks.field_of(d) for d in cols["login"]], pa.binary()),
                    pa.array([ks.encode_digests(c) for c in cols["cookies"]], pa.binary()),
                ],
                names=["bucket", "field", "value"],
            )

    return encode


def encode_logins(login_cookies: DataFrame, *, buckets: int) -> DataFrame:
    """``(login_hash, site_id, cookie_id)`` rows -> ``(bucket, field, value)`` of the login index.

    Args:
        login_cookies: every cookie an opt-out by ``login_hash`` must remove, one row each.
        buckets: the version's login bucket count.
    """
    from pyspark.sql import functions as F

    digests = login_cookies.select("login_hash", "site_id", "cookie_id").mapInArrow(
        _digest_batches, "login binary, cookie binary"
    )
    grouped = digests.groupBy("login").agg(F.collect_set("cookie").alias("cookies"))
    return grouped.mapInArrow(_encode_login_batches(buckets), BUCKET_SCHEMA)


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
        kind: ``"cookie"`` or ``"login"`` (which key family).
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


# --------------------------------------------------------------------------- Redis side


def configure_listpack(
    client: Any, *, entries: int, value: int, apply: bool = True
) -> dict[str, int]:
    """Set (where allowed) and read back the listpack limits on every node.

    Managed services refuse ``CONFIG``; there the parameter group must carry the values and
    we only read them (or, when even that is refused, trust the documentation).

    Returns:
        The limits in force (the smallest over the nodes), or the requested ones if unreadable.
    """
    import redis

    kwargs = {"target_nodes": client.ALL_NODES} if hasattr(client, "ALL_NODES") else {}
    try:
        if apply:
            client.config_set("hash-max-listpack-entries", entries, **kwargs)
            client.config_set("hash-max-listpack-value", value, **kwargs)
    except redis.ResponseError as exc:
        log.warning("CONFIG SET refused (%s); relying on the server's configuration", exc)
    try:
        raw = client.config_get("hash-max-listpack-*", **kwargs)
    except redis.ResponseError:
        return {"entries": entries, "value": value}
    nodes = raw.values() if kwargs else [raw]
    return {
        "entries": min(int(n["hash-max-listpack-entries"]) for n in nodes),
        "value": min(int(n["hash-max-listpack-value"]) for n in nodes),
    }


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _run_per_key(client: Any, command: str, keys: Iterable[bytes], *args: Any) -> list[Any]:
    """Run a single-key command for every key, pipelined (cluster-safe: no multi-key calls)."""
    results: list[Any] = []
    for chunk in _chunks(keys, _PIPELINE_CHUNK):
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.execute_command(command, key, *args)
        results.extend(pipe.execute())
    return results


def count_fields(client: Any, version: ks.GraphVersion) -> int:
    """Cookies stored in ``version``: the sum of ``HLEN`` over its cookie buckets."""
    keys = (ks.cookie_key(version.name, b) for b in range(version.buckets))
    return sum(int(n) for n in _run_per_key(client, "HLEN", keys))


def delete_version(client: Any, version: ks.GraphVersion) -> None:
    """Remove every key of ``version`` and its registry entry (a failed or stale load)."""
    _run_per_key(client, "UNLINK", version.keys())
    client.hdel(ks.VERSIONS_KEY, version.name)


def expire_version(client: Any, version: ks.GraphVersion, ttl_s: int) -> None:
    """Let ``version``'s keys expire in ``ttl_s`` seconds (readers still on it finish first)."""
    _run_per_key(client, "EXPIRE", version.keys(), ttl_s)
    client.hdel(ks.VERSIONS_KEY, version.name)


def read_live(client: Any) -> tuple[ks.GraphVersion | None, ks.GraphVersion | None, bytes | None]:
    """(live, previous, raw pointer value) as stored now."""
    raw = client.get(ks.LIVE_KEY)
    live, previous = ks.decode_live(raw)
    return live, previous, raw


def registered_versions(client: Any) -> list[ks.GraphVersion]:
    """Every version in the registry (loading, live, previous)."""
    return [ks.decode_version(v) for v in client.hgetall(ks.VERSIONS_KEY).values()]


# KEYS[1] live pointer, KEYS[2] registry. ARGV: expected pointer ('' = none), new pointer,
# then name/json pairs to HSET, then '--', then names to HDEL.
_SWITCH_LUA = """
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
local i = 3
while ARGV[i] ~= '--' do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for j = i + 1, #ARGV do redis.call('HDEL', KEYS[2], ARGV[j]) end
return 1
"""


def switch_live(
    client: Any,
    *,
    expected: bytes | None,
    live: ks.GraphVersion,
    previous: ks.GraphVersion | None,
    drop: Sequence[str] = (),
) -> bool:
    """Atomically point readers at ``live`` if the pointer still equals ``expected``.

    Returns:
        False when another publisher or rollback changed the pointer meanwhile.
    """
    updates: list[bytes | str] = [live.name, ks.encode_version(live)]
    if previous is not None:
        updates += [previous.name, ks.encode_version(previous)]
    argv = [expected or b"", ks.encode_live(live, previous), *updates, "--", *drop]
    return bool(client.eval(_SWITCH_LUA, 2, ks.LIVE_KEY, ks.VERSIONS_KEY, *argv))


def rollback(client: Any, *, retired_ttl_s: int) -> tuple[ks.GraphVersion, ks.GraphVersion]:
    """Make the previous version live again; the rolled-back one expires.

    Returns:
        (now live, rolled back).

    Raises:
        RuntimeError: when there is nothing to roll back to.
    """
    live, previous, raw = read_live(client)
    if live is None or previous is None:
        raise RuntimeError("no previous graph version to roll back to")
    restored = dataclasses.replace(previous, status="live")
    if not switch_live(client, expected=raw, live=restored, previous=None, drop=[live.name]):
        raise RuntimeError("the live version changed during the rollback; try again")
    expire_version(client, live, retired_ttl_s)
    return restored, dataclasses.replace(live, status="retired")


def acquire_lock(client: Any, *, ttl_s: int = 6 * 3600) -> str:
    """Take the publish lock (one publisher at a time) and return its token.

    Raises:
        RuntimeError: when another publish holds it.
    """
    token = f"{time.time():.6f}"
    if not client.set(ks.LOCK_KEY, token, nx=True, ex=ttl_s):
        raise RuntimeError(f"another publish holds {ks.LOCK_KEY}")
    return token


def release_lock(client: Any, token: str) -> None:
    """Release the publish lock if we still hold it."""
    client.eval(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end "
        "return 0",
        1,
        ks.LOCK_KEY,
        token,
    )


def read_back(client: Any, version: ks.GraphVersion, sample: Iterable[Any]) -> list[str]:
    """Compare a sample of graph rows with what the lookup path reads; return mismatches."""
    rows = list(sample)
    pipe = client.pipeline(transaction=False)
    for row in rows:
        pipe.hget(*ks.cookie_location(version, row["site_id"], row["cookie_id"]))
    problems = []
    for row, raw in zip(rows, pipe.execute(), strict=True):
        household = row.asDict().get("household_id")
        conf = round(ks.quantize_confidence(row["confidence"]) / 255, 3)
        expected = (row["unified_id"], conf, household)
        got = ks.decode_cookie(raw) if raw is not None else None
        if got != expected:
            problems.append(f"{row['site_id']}/{row['cookie_id']}: {got} != {expected}")
    return problems
