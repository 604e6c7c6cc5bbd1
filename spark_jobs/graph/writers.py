"""Per-partition bucket writers: Arrow batches sorted by bucket in, one stats row out.

Each bucket goes out as one command: by default ``RESTORE key 0 <payload> REPLACE`` of the
finished listpack (``idgraph.core.rdb_payload``; see "Bulk load with RESTORE" in
``docs/redis-format.md``), or an ``HSET`` with all its fields (``redis.write_mode = "hset"``,
and the fallback when the server refuses ``DUMP``/``RESTORE``).
``pipeline(transaction=False)`` flushes every ``batch_fields`` fields; on a cluster the
client is a ``RedisCluster`` whose pipeline sends each node its own commands in one round
trip per flush. No Spark import: ``load_buckets`` runs these inside ``mapInArrow``.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from idgraph.core import keyspace as ks

if TYPE_CHECKING:
    import pyarrow as pa

    from idgraph.core.versions import RedisTarget

log = logging.getLogger(__name__)

WRITE_MODES = ("restore", "hset")
_PROBE_TTL_MS = 60_000


def restore_rdb_version(client: Any) -> int | None:
    """The server's RDB version if it takes our ``RESTORE`` payloads, else None.

    Reads the version from the server's own ``DUMP`` of a scratch key, then ``RESTORE``s a
    one-field hash built here and reads the field back. None when ``DUMP``/``RESTORE`` are
    refused (renamed or denied on some managed services) or the hash does not come back:
    the caller then writes with ``HSET``. On a cluster only the scratch key's node is
    asked; a node on an older version would refuse the payloads and fail the load.
    """
    import redis

    from idgraph.core import rdb_payload as rdb

    key = f"{ks.PREFIX}:restore-probe:{uuid.uuid4().hex}".encode()
    try:
        client.set(key, b"probe", px=_PROBE_TTL_MS)  # expires even if we die before DEL
        dumped = client.dump(key)
        if not dumped or len(dumped) < 10:
            raise ValueError(f"unexpected DUMP output {dumped!r}")
        version = int.from_bytes(dumped[-10:-8], "little")  # [... version u16][crc64 u64]
        payload = rdb.hash_payload([(b"probe", b"ok")], version)
        client.restore(key, _PROBE_TTL_MS, payload, replace=True)
        restored = client.hget(key, b"probe")
    except (redis.RedisError, ValueError) as exc:
        log.warning("RESTORE unavailable (%s); writing buckets with HSET", exc)
        return None
    finally:
        with contextlib.suppress(redis.RedisError):
            client.delete(key)
    if restored != b"ok":
        log.warning("a RESTOREd probe hash read back %r; writing buckets with HSET", restored)
        return None
    return version


def bucket_writer(
    target: RedisTarget,
    version: str,
    kind: str,
    batch_fields: int,
    write_mode: str = "restore",
    rdb_version: int | None = None,
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The per-partition writer: Arrow batches sorted by bucket in, one stats row out.

    Public so that benchmarks can time exactly what each Spark task runs.

    Args:
        target: the Redis server or cluster.
        version: version name the keys belong to.
        kind: ``"cookie"``, ``"login"`` or ``"person"`` (which key family).
        batch_fields: fields per pipeline round trip.
        write_mode: ``"restore"`` (one ``RESTORE … REPLACE`` of a finished listpack per
            bucket; falls back to ``"hset"`` when the server refuses it) or ``"hset"``.
        rdb_version: for ``"restore"``, the server's RDB version when the caller has
            already probed it with ``restore_rdb_version``; None: each writer probes.
    """
    if write_mode not in WRITE_MODES:
        raise ValueError(f"write_mode {write_mode!r} is not one of {WRITE_MODES}")
    key_of = {"cookie": ks.cookie_key, "login": ks.login_key, "person": ks.person_key}[kind]

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        client = target.client()  # one client (and connection per node) per partition
        try:
            server_rdb = rdb_version
            if write_mode == "restore" and server_rdb is None:
                server_rdb = restore_rdb_version(client)
            if write_mode == "hset" or server_rdb is None:
                stats = _write_hset(client, batches, lambda b: key_of(version, b), batch_fields)
            else:
                stats = _write_restore(
                    client, batches, lambda b: key_of(version, b), batch_fields, server_rdb
                )
        finally:
            client.close()
        yield pa.RecordBatch.from_pylist([stats])

    return write


def _new_stats() -> dict[str, int]:
    return dict(rows=0, added=0, buckets=0, max_bucket=0, max_value=0)


def _write_hset(
    client: Any,
    batches: Iterator[pa.RecordBatch],
    key_of: Callable[[int], bytes],
    batch_fields: int,
) -> dict[str, int]:
    """One ``HSET`` per bucket (per bucket and Arrow batch when a bucket spans two)."""
    import pyarrow.compute as pc

    pipe = client.pipeline(transaction=False)
    stats = _new_stats()
    pending = 0
    current, current_size = -1, 0  # a bucket may continue into the next Arrow batch

    def flush() -> None:
        nonlocal pending
        if pending:
            stats["added"] += sum(int(r) for r in pipe.execute())
            pending = 0

    for batch in batches:
        if batch.num_rows == 0:
            continue
        bucket_ids = batch.column(0).to_numpy()
        fields, values = batch.column(1).to_pylist(), batch.column(2).to_pylist()
        longest = pc.max(pc.binary_length(batch.column(2))).as_py()
        stats["max_value"] = max(stats["max_value"], longest or 0)
        bounds = _runs(bucket_ids).tolist()
        for start, end in zip(bounds[:-1], bounds[1:], strict=True):
            bucket = int(bucket_ids[start])
            if bucket != current:
                stats["buckets"] += 1
                current, current_size = bucket, 0
            current_size += end - start
            stats["max_bucket"] = max(stats["max_bucket"], current_size)
            args: list[bytes] = [b""] * (2 * (end - start))
            args[0::2], args[1::2] = fields[start:end], values[start:end]
            pipe.execute_command("HSET", key_of(bucket), *args)
            pending += end - start
            stats["rows"] += end - start
            if pending >= batch_fields:
                flush()
    flush()
    return stats


def _write_restore(
    client: Any,
    batches: Iterator[pa.RecordBatch],
    key_of: Callable[[int], bytes],
    batch_fields: int,
    rdb_version: int,
) -> dict[str, int]:
    """One ``RESTORE key 0 payload REPLACE`` per bucket, ``batch_fields`` fields per round trip.

    Rows are held back until their bucket is complete (it may continue in the next batch):
    ``REPLACE`` makes a retried task rewrite its buckets whole, so a bucket must never be
    sent in two parts. ``added`` counts the fields restored (after duplicates collapse).
    """
    import numpy as np
    import pyarrow as pa

    stats = _new_stats()
    written: set[int] = set()
    pending: list[pa.RecordBatch] = []
    pending_rows = 0

    def send(table: pa.Table) -> None:
        done = _restore_buckets(client, table, key_of, rdb_version, written)
        stats["rows"] += table.num_rows
        for name in ("added", "buckets"):
            stats[name] += done[name]
        for name in ("max_bucket", "max_value"):
            stats[name] = max(stats[name], done[name])

    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows < batch_fields:
            continue
        table = pa.Table.from_batches(pending).combine_chunks()
        bucket_ids = table.column(0).to_numpy()
        others = np.flatnonzero(bucket_ids != bucket_ids[-1])
        cut = int(others[-1]) + 1 if len(others) else 0  # the last bucket may go on
        if cut:
            send(table.slice(0, cut))
            pending, pending_rows = table.slice(cut).to_batches(), table.num_rows - cut
    if pending:
        send(pa.Table.from_batches(pending).combine_chunks())
    return stats


def _restore_buckets(
    client: Any,
    table: pa.Table,
    key_of: Callable[[int], bytes],
    rdb_version: int,
    written: set[int],
) -> dict[str, int]:
    """``RESTORE`` every bucket of ``table`` (complete buckets, contiguous) in one pipeline.

    Args:
        written: buckets this writer already sent; updated. A bucket seen twice means the
            input was not grouped by bucket, and a second ``RESTORE`` would drop its first part.

    Returns:
        This table's ``added`` (fields restored), ``buckets``, ``max_bucket`` (rows of the
        largest bucket) and ``max_value`` (longest value, bytes).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from idgraph.core import rdb_payload as rdb

    bucket_ids = table.column(0).to_numpy()
    fields, values = table.column(1).combine_chunks(), table.column(2).combine_chunks()
    bounds = _runs(bucket_ids)
    buckets = bucket_ids[bounds[:-1]].tolist()
    if len(set(buckets)) != len(buckets) or not written.isdisjoint(buckets):
        raise RuntimeError("the writer's input is not grouped by bucket")
    written.update(buckets)
    figures = {
        "buckets": len(buckets),
        "max_bucket": int(np.diff(bounds).max()),
        "max_value": int(pc.max(pc.binary_length(values)).as_py() or 0),
    }
    keep = _last_of_each_field(bucket_ids, fields)
    if keep is not None:  # HSET semantics: a repeated field keeps its last value
        mask = pa.array(keep)
        fields, values, bucket_ids = fields.filter(mask), values.filter(mask), bucket_ids[keep]
        bounds = _runs(bucket_ids)
    payloads = rdb.hash_payloads(rdb.hash_entries(fields, values), bounds, rdb_version)
    pipe = client.pipeline(transaction=False)
    for bucket, payload in zip(buckets, payloads, strict=True):
        pipe.execute_command("RESTORE", key_of(bucket), 0, payload, "REPLACE")
    pipe.execute()  # raises on the first refused payload
    return figures | {"added": len(fields)}


def _runs(bucket_ids: Any) -> Any:
    """Bounds of the runs of equal bucket ids: run i is rows ``bounds[i]:bounds[i+1]``."""
    import numpy as np

    return np.concatenate([[0], np.flatnonzero(np.diff(bucket_ids)) + 1, [len(bucket_ids)]])


def _last_of_each_field(bucket_ids: Any, fields: pa.Array) -> Any:
    """Mask keeping the last row of every repeated (bucket, field); None when none repeats."""
    import numpy as np
    import pyarrow.compute as pc

    codes = pc.dictionary_encode(fields)
    distinct = len(codes.dictionary)
    if distinct == len(fields):
        return None
    pair = bucket_ids.astype(np.int64) * distinct + codes.indices.to_numpy()
    _, last_from_end = np.unique(pair[::-1], return_index=True)
    keep = np.zeros(len(pair), dtype=bool)
    keep[len(pair) - 1 - last_from_end] = True
    return keep
