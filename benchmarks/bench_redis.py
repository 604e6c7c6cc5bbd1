"""Redis layout and loader: memory per cookie and load rate, each beside its reference.

* Memory: the compact layout (hash buckets, 8-byte fields, packed values) and the plain
  one-key-per-cookie layout, each loaded into its own fresh valkey-server in this run;
  ``used_memory`` delta / cookies. Target: <= 32 B per cookie.
* Load rate: the loader's per-partition writer (exactly what each Spark task runs) on
  bucket-sorted Arrow batches, one client, in both write modes (``restore``, the default,
  and ``hset``), and the whole Spark publish (local mode, default mode), against
  ``redis-benchmark -P 16 -t set`` on the same server. Target: >= 50 % of that rate.
* Client-side costs: the cookie encoder (vectorised, and the scalar keyspace path it
  replaces), building RESTORE payloads, and the CRC-64 alone.

``redis-benchmark`` comes from Debian's ``redis-tools``, installed with apt-get when missing
(quick mode, 5k cookies and one run, installs nothing: without the tool its reference figures
are null).
"""

from __future__ import annotations

import csv
import io
import shutil
import statistics
import subprocess
import time
from typing import Any

import numpy as np

from benchmarks.common import main_for, timed
from idgraph.core import keyspace as ks
from idgraph.core import versions
from idgraph.core.embedded import graph_server_config, start_server
from spark_jobs.graph import redis_loader as rl
from spark_jobs.graph import writers

SITES = ("news.example", "shop.example", "forum.example", "video.example")


def ensure_tool(binary: str, package: str) -> str:
    """Path of ``binary``, installing the Debian ``package`` with apt-get if it is missing."""
    found = shutil.which(binary)
    if found:
        return found
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env)
    found = shutil.which(binary)
    if not found:
        raise RuntimeError(f"{binary} still missing after installing {package}")
    return found


def reference_tool(binary: str, package: str, *, quick: bool) -> str | None:
    """The reference tool: installed if missing for a full run; in quick mode only if present."""
    return shutil.which(binary) if quick else ensure_tool(binary, package)


def synthetic_graph(n: int, seed: int = 11) -> dict[str, list[Any]]:
    """``n`` cookies shaped like the real ones: UUID cookie ids, ``u`` + 24-hex unified ids."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    cookies = [f"{a:016x}{b:016x}" for a, b in tokens.tolist()]
    cookies = [f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}" for h in cookies]
    persons = rng.integers(0, max(1, n // 3), size=n).tolist()
    return {
        "site_id": [SITES[i % len(SITES)] for i in range(n)],
        "cookie_id": cookies,
        "unified_id": [f"u{p:024x}" for p in persons],
        "confidence": rng.uniform(0.3, 1.0, size=n).round(3).tolist(),
    }


def encoded_batches(graph: dict[str, list[Any]], buckets: int, batch: int = 50_000) -> list[Any]:
    """The loader's input: (bucket, field, value) Arrow batches sorted by bucket."""
    import pyarrow as pa

    encode = rl.cookie_batch_encoder(buckets)
    table = pa.Table.from_pydict(graph)
    encoded = pa.Table.from_batches(list(encode(iter(table.to_batches(max_chunksize=batch)))))
    order = np.argsort(encoded.column("bucket").to_numpy(), kind="stable")
    return encoded.take(order).to_batches(max_chunksize=batch)


def load_compact(
    url: str, version: ks.GraphVersion, batches: list[Any], mode: str = "restore"
) -> dict[str, int]:
    """Write one version with the per-partition writer (one client) and switch to it."""
    import pyarrow as pa

    target = versions.RedisTarget(url)
    writer = rl.bucket_writer(target, version.name, "cookie", 20_000, mode)
    stats = next(iter(writer(iter(batches))))
    client = target.client()
    live, _, raw = versions.read_live(client)
    versions.switch_live(client, expected=raw, live=version, previous=None)
    client.close()
    return {k: v[0] for k, v in pa.Table.from_batches([stats]).to_pydict().items()}


def load_plain(client: Any, graph: dict[str, list[Any]], chunk: int = 2000) -> None:
    """One string key per cookie (``site:cookie`` -> ``unified_id:confidence``), MSET chunks."""
    rows = zip(
        graph["site_id"], graph["cookie_id"], graph["unified_id"], graph["confidence"], strict=True
    )
    pending: dict[str, str] = {}
    for site, cookie, uid, conf in rows:
        pending[f"{site}:{cookie}"] = f"{uid}:{conf:.3f}"
        if len(pending) >= chunk:
            client.mset(pending)
            pending = {}
    if pending:
        client.mset(pending)


def redis_benchmark(
    port: int,
    *,
    test: str,
    requests: int,
    pipeline: int = 1,
    clients: int = 50,
    binary: str | None = None,
) -> float:
    """ops/s of ``redis-benchmark -t test`` against 127.0.0.1:port."""
    binary = binary or ensure_tool("redis-benchmark", "redis-tools")
    out = subprocess.run(
        [binary, "-h", "127.0.0.1", "-p", str(port), "-t", test, "-n", str(requests),
         "-P", str(pipeline), "-c", str(clients), "-r", "1000000", "--csv", "-q"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    for row in csv.reader(io.StringIO(out)):
        if row and row[0].upper() == test.upper():
            return float(row[1])
    raise RuntimeError(f"unexpected redis-benchmark output: {out!r}")


def _used(client: Any) -> int:
    client.execute_command("MEMORY", "PURGE")
    return int(client.info("memory")["used_memory"])


def _server() -> Any:
    return start_server(config=graph_server_config())


def spark_publish_rate(graph: dict[str, list[Any]], url: str) -> dict[str, Any]:
    """Cookies/s of the whole Spark publish (encode, shuffle, write, verify) in local mode."""
    import datetime as dt

    from idgraph.core.settings import load_settings
    from spark_jobs.common.session import build_spark
    from spark_jobs.graph.publish import publish_graph

    settings = load_settings(spark={"master": "local[2]", "shuffle_partitions": 2})
    spark = build_spark(settings.spark)
    df = spark.createDataFrame(
        list(zip(*graph.values(), strict=True)),
        "site_id string, cookie_id string, unified_id string, confidence double",
    ).cache()
    df.count()
    started = time.perf_counter()
    summary = publish_graph(
        spark,
        df,
        None,
        settings=settings,
        target=versions.RedisTarget(url),
        day=dt.date(2024, 1, 5),
    )
    total = time.perf_counter() - started
    df.unpersist()
    return {
        "spark_write_mode": summary["write_mode"],
        "spark_publish_seconds": round(total, 2),
        "spark_publish_cookies_per_s": round(len(graph["cookie_id"]) / total),
        "spark_load_phase_cookies_per_s": summary["cookies_per_s"],
    }


def client_costs(
    graph: dict[str, list[Any]], batches: list[Any], buckets: int, rdb_version: int
) -> dict[str, Any]:
    """Client CPU per stage: encoder (vectorised and scalar), payload build, CRC alone."""
    import pyarrow as pa

    from idgraph.core import keyspace_batch
    from idgraph.core import rdb_payload as rdb

    table = pa.Table.from_pydict(graph)
    n = table.num_rows
    sample = table.slice(0, min(n, 100_000)).to_batches(max_chunksize=10_000)
    encode = rl.cookie_batch_encoder(buckets)
    fast, _, _ = timed(lambda: list(encode(iter(table.to_batches(10_000)))), runs=3)
    scalar, _, _ = timed(
        lambda: [keyspace_batch.encode_cookie_rows(b, buckets) for b in sample], runs=1
    )  # the per-row path the encoder replaced (keyspace functions, 100k rows)
    encoded = pa.Table.from_batches(batches)
    bucket_ids = encoded.column("bucket").to_numpy()
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(bucket_ids)) + 1, [n]])
    fields, values = encoded.column(1).combine_chunks(), encoded.column(2).combine_chunks()

    def build() -> list[bytes]:
        return rdb.hash_payloads(rdb.hash_entries(fields, values), bounds, rdb_version)

    build_s, _, payloads = timed(build, runs=3)
    crc_s, _, _ = timed(lambda: rdb.crc64_many(payloads), runs=3)
    payload_bytes = sum(len(p) for p in payloads)
    return {
        "cookie_encoder_us_per_row": round(fast / n * 1e6, 2),
        "cookie_encoder_scalar_us_per_row": round(
            scalar / sum(b.num_rows for b in sample) * 1e6, 2
        ),
        "restore_payload_build_cookies_per_s": round(n / build_s),
        "restore_payload_bytes_per_cookie": round(payload_bytes / n, 1),
        "crc64_mb_per_s": round(payload_bytes / crc_s / 1e6),
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Memory per cookie and load rate vs redis-benchmark (see the module docstring)."""
    n = 5_000 if quick else 1_000_000
    runs = 1 if quick else 3
    reference = reference_tool("redis-benchmark", "redis-tools", quick=quick)
    graph = synthetic_graph(n)
    buckets = ks.bucket_count(n, 200)
    batches = encoded_batches(graph, buckets)

    compact, plain = _server(), _server()
    try:
        import redis

        c_client, p_client = redis.Redis(port=compact.port), redis.Redis(port=plain.port)
        rdb_version = writers.restore_rdb_version(c_client)  # its one-off allocations go first
        assert rdb_version is not None, "the server refuses RESTORE"
        base_p = _used(p_client)
        rates: dict[str, list[float]] = {"restore": [], "hset": []}
        compact_bytes, encodings = {}, {}
        for run_no in range(runs):
            for day, mode in enumerate(rates, start=1):
                version = ks.GraphVersion(
                    name=f"2000010{day}.{run_no + 1}", buckets=buckets, cookies=n
                )
                before = _used(c_client)
                started = time.perf_counter()
                stats = load_compact(f"redis://127.0.0.1:{compact.port}", version, batches, mode)
                rates[mode].append(n / (time.perf_counter() - started))
                if run_no == 0:
                    compact_bytes[mode] = (_used(c_client) - before) / n
                    encodings[mode] = {
                        c_client.object("encoding", ks.cookie_key(version.name, b))
                        for b in range(0, buckets, max(1, buckets // 50))
                    }
        load_plain(p_client, graph)
        plain_bytes = (_used(p_client) - base_p) / n
        set_rates = [
            redis_benchmark(compact.port, test="set", requests=n, pipeline=16, binary=reference)
            for _ in range(runs if reference else 0)
        ]
        spark = spark_publish_rate(graph, f"redis://127.0.0.1:{compact.port}")
    finally:
        compact.terminate()
        plain.terminate()
    costs = client_costs(graph, batches, buckets, rdb_version)
    set_rate = statistics.median(set_rates) if set_rates else None
    writer_rate = statistics.median(rates["restore"])
    hset_rate = statistics.median(rates["hset"])
    return {
        "cookies": n,
        "bucket_fill": 200,
        "max_bucket": stats["max_bucket"],
        "bucket_encodings": sorted({e.decode() for found in encodings.values() for e in found}),
        "compact_bytes_per_cookie": round(compact_bytes["restore"], 1),
        "compact_bytes_per_cookie_hset": round(compact_bytes["hset"], 1),
        "plain_bytes_per_cookie": round(plain_bytes, 1),
        "memory_ratio_plain_over_compact": round(plain_bytes / compact_bytes["restore"], 2),
        "memory_target_met": compact_bytes["restore"] <= 32,
        "writer_mode": "restore",
        "writer_cookies_per_s_one_client": round(writer_rate),
        "writer_runs": [round(r) for r in rates["restore"]],
        "writer_hset_cookies_per_s_one_client": round(hset_rate),
        "writer_hset_runs": [round(r) for r in rates["hset"]],
        "redis_benchmark_set_P16_ops_per_s": _round(set_rate),
        "redis_benchmark_set_P16_runs": [round(r) for r in set_rates],
        "writer_vs_set_P16": _ratio(writer_rate, set_rate),
        "writer_hset_vs_set_P16": _ratio(hset_rate, set_rate),
        "load_target_met": None if set_rate is None else writer_rate >= 0.5 * set_rate,
        **spark,
        "spark_publish_vs_set_P16": _ratio(spark["spark_publish_cookies_per_s"], set_rate),
        **costs,
        **({} if reference else {"note": "redis-benchmark not installed: no reference rate"}),
    }


def _round(value: float | None) -> int | None:
    return None if value is None else round(value)


def _ratio(value: float, reference: float | None, digits: int = 2) -> float | None:
    """``value / reference``, or None without a reference (quick mode without the tool)."""
    return None if reference is None else round(value / reference, digits)


if __name__ == "__main__":
    main_for("redis")
