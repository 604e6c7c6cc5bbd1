"""RESTORE payloads and the loader's two write modes against a real valkey-server (no Spark).

The payloads must be what the server itself would ``DUMP``, survive its deep validation,
come back as listpacks, and leave exactly the hashes the ``HSET`` mode leaves.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
import redis

from idgraph.core import keyspace as ks
from idgraph.core import rdb_payload as rdb
from idgraph.core import versions
from idgraph.core.embedded import graph_server_config, start_server
from spark_jobs.graph import writers

pytestmark = [pytest.mark.redis]


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    # Deep validation of RESTORE payloads. Valkey 9.1 takes the option from the config
    # file but refuses it in CONFIG SET; test_deep_validation_is_on proves it is active.
    srv = start_server(config=graph_server_config() | {"sanitize-dump-payload": "yes"})
    yield srv
    srv.terminate()


@pytest.fixture()
def client(server: Any) -> Iterator[redis.Redis]:
    conn = redis.Redis(port=server.port)
    conn.flushall()
    yield conn
    conn.close()


def _pairs(rng: random.Random, n: int, value_len: int = 16) -> list[tuple[bytes, bytes]]:
    return [(rng.randbytes(8), rng.randbytes(value_len)) for _ in range(n)]


def _version(client: redis.Redis) -> int:
    version = writers.restore_rdb_version(client)
    assert version is not None
    return version


def test_payloads_equal_the_servers_own_dump(client: redis.Redis) -> None:
    rng = random.Random(1)
    client.config_set("rdbcompression", "no")  # DUMP would LZF-compress long strings
    client.config_set("hash-max-listpack-value", 100_000)
    try:
        for lengths in ([3], [16] * 200, [63, 64, 125, 126], [4095, 4096], [16378, 16379]):
            pairs = [(b"f" + rng.randbytes(7), b"v" * n) for n in lengths]
            client.delete("h")
            client.hset("h", mapping=dict(pairs))
            assert client.object("encoding", "h") == b"listpack"
            assert rdb.hash_payload(pairs, _version(client)) == client.dump("h"), lengths
    finally:
        client.config_set("rdbcompression", "yes")
        client.config_set("hash-max-listpack-value", 64)


def test_restored_hashes_read_back_as_listpacks(client: redis.Redis) -> None:
    rng = random.Random(2)
    version = _version(client)
    shapes = {"graph": _pairs(rng, 200), "one": _pairs(rng, 1), "digits": [(b"12345678", b"7")]}
    for name, pairs in shapes.items():
        client.restore(name, 0, rdb.hash_payload(pairs, version), replace=True)
        assert client.object("encoding", name) == b"listpack"
        assert client.hlen(name) == len(pairs)
        assert all(client.hget(name, f) == v for f, v in pairs)
        assert client.hget(name, b"absent!!") is None


def test_deep_validation_is_on(client: redis.Redis) -> None:
    """A wrong backlen passes the shallow check (header, terminator) but not the deep one."""
    version = _version(client)
    good = rdb.hash_payload([(b"abcdefgh", b"value1")], version)
    corrupt = bytearray(good[:-8])
    assert corrupt[2 + 6 + 9] == 0x09  # the field entry's backlen
    corrupt[2 + 6 + 9] = 0x0A
    with pytest.raises(redis.ResponseError, match="Bad data format"):
        client.restore("bad", 0, bytes(corrupt) + rdb.crc64(bytes(corrupt)).to_bytes(8, "little"))
    client.restore("good", 0, good)  # ... while a built payload is accepted
    repeated = [(b"abcdefgh", b"1"), (b"abcdefgh", b"2")]  # why the loader drops repeats first
    with pytest.raises(redis.ResponseError, match="Bad data format"):
        client.restore("dup", 0, rdb.hash_payload(repeated, version))


def test_buckets_over_the_listpack_limits_still_load(client: redis.Redis) -> None:
    rng = random.Random(3)
    version = _version(client)
    big, long_values = _pairs(rng, 600), _pairs(rng, 5, value_len=100)
    client.restore("big", 0, rdb.hash_payload(big, version))
    client.restore("long", 0, rdb.hash_payload(long_values, version))
    assert client.object("encoding", "big") == b"hashtable"  # > hash-max-listpack-entries
    assert client.hgetall("big") == dict(big)
    # Unlike HSET, RESTORE keeps over-long values in a listpack (smaller; read the same way).
    assert client.object("encoding", "long") == b"listpack"
    assert client.hgetall("long") == dict(long_values)


def _batches(rng: random.Random) -> tuple[list[pa.RecordBatch], dict[int, dict[bytes, bytes]]]:
    """Bucket-sorted writer input with every awkward case, and the hashes it must leave."""
    sizes = {0: 3, 1: 200, 2: 600, 3: 1, 4: 250, 5: 40}  # 2: over hash-max-listpack-entries
    rows: list[tuple[int, bytes, bytes]] = []
    for bucket, size in sizes.items():
        value_len = 90 if bucket == 5 else 16  # 5: login-index-like long values
        rows += [(bucket, f, v) for f, v in _pairs(rng, size, value_len)]
    first = next(i for i, r in enumerate(rows) if r[0] == 4)
    rows.insert(first + 10, (4, rows[first][1], b"second value"))  # a repeated field
    expected: dict[int, dict[bytes, bytes]] = {}
    for bucket, field, value in rows:
        expected.setdefault(bucket, {})[field] = value  # HSET keeps the last value
    table = pa.table(
        {
            "bucket": pa.array([r[0] for r in rows], pa.int32()),
            "field": pa.array([r[1] for r in rows], pa.binary()),
            "value": pa.array([r[2] for r in rows], pa.binary()),
        }
    )
    return table.to_batches(max_chunksize=97), expected  # buckets span batches


@pytest.mark.parametrize("batch_fields", [1, 150, 20_000])
def test_restore_and_hset_modes_leave_the_same_hashes(
    client: redis.Redis, server: Any, batch_fields: int
) -> None:
    batches, expected = _batches(random.Random(4))
    target = versions.RedisTarget(f"redis://127.0.0.1:{server.port}")
    stats = {}
    for mode, version in (("restore", "20240105.1"), ("hset", "20240105.2")):
        writer = writers.bucket_writer(target, version, "cookie", batch_fields, mode)
        stats[mode] = next(iter(writer(iter(batches)))).to_pylist()[0]
    figures = {
        "rows": sum(b.num_rows for b in batches),
        "added": sum(len(h) for h in expected.values()),  # the repeated field counts once
        "buckets": len(expected),
        "max_bucket": 600,
        "max_value": 90,
    }
    assert stats == {"restore": figures, "hset": figures}
    for bucket, fields_ in expected.items():
        restored = client.hgetall(ks.cookie_key("20240105.1", bucket))
        assert restored == client.hgetall(ks.cookie_key("20240105.2", bucket)) == fields_
        encoding = client.object("encoding", ks.cookie_key("20240105.1", bucket))
        assert encoding == (b"hashtable" if bucket == 2 else b"listpack")


def test_restore_replaces_a_partly_written_bucket(client: redis.Redis, server: Any) -> None:
    """A retried Spark task rewrites its buckets whole: no field of the failed try survives."""
    batches, expected = _batches(random.Random(5))
    client.hset(ks.cookie_key("20240105.1", 1), b"leftover", b"x")
    target = versions.RedisTarget(f"redis://127.0.0.1:{server.port}")
    next(iter(writers.bucket_writer(target, "20240105.1", "cookie", 500)(iter(batches))))
    assert client.hgetall(ks.cookie_key("20240105.1", 1)) == expected[1]


def test_ungrouped_input_is_refused(server: Any) -> None:
    table = pa.table(
        {
            "bucket": pa.array([1, 2, 1], pa.int32()),
            "field": pa.array([b"a" * 8, b"b" * 8, b"c" * 8]),
            "value": pa.array([b"1", b"2", b"3"]),
        }
    )
    target = versions.RedisTarget(f"redis://127.0.0.1:{server.port}")
    writer = writers.bucket_writer(target, "20240105.1", "cookie", 1)
    with pytest.raises(RuntimeError, match="not grouped by bucket"):
        next(iter(writer(iter(table.to_batches(max_chunksize=1)))))


def test_writer_falls_back_to_hset_when_restore_is_denied(
    client: redis.Redis, server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client.acl_setuser(
        "no-restore", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-restore"]
    )
    try:
        batches, expected = _batches(random.Random(6))
        target = versions.RedisTarget(f"redis://no-restore:pw@127.0.0.1:{server.port}")
        with caplog.at_level(logging.WARNING, logger=writers.__name__):
            writer = writers.bucket_writer(target, "20240105.1", "cookie", 20_000, "restore")
            stats = next(iter(writer(iter(batches)))).to_pylist()[0]
        assert "writing buckets with HSET" in caplog.text
        assert stats["added"] == sum(len(h) for h in expected.values())
        for bucket, fields in expected.items():
            assert client.hgetall(ks.cookie_key("20240105.1", bucket)) == fields
        assert list(client.scan_iter(match="idg:restore-probe:*")) == []
    finally:
        client.acl_deluser("no-restore")


def test_unknown_write_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="write_mode"):
        writers.bucket_writer(
            versions.RedisTarget("redis://unused"), "20240105.1", "cookie", 1, "mset"
        )
