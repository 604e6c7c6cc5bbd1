"""Lookup service under a real HTTP load generator (wrk) on loopback, beside raw Redis GETs.

A fresh valkey-server gets a graph of >= 1M cookies (the loader's writer, same layout as a
publish); ``idgraph serve --workers N`` serves it; wrk drives single lookups at concurrency
8 and 64 and batches of 100 at concurrency 8, each over random known cookies. Reference:
``redis-benchmark -t get`` against the same server in the same run, at the same
concurrency (8; the rate at 50 is reported too). Targets at concurrency 8: p99 <= 5 ms and
requests/s >= 10 % of the raw GET rate. Everything shares the machine's cores: the server,
wrk (one thread: eight connections do not need more) and valkey-server.

wrk and redis-benchmark come from Debian (``wrk``, ``redis-tools``), installed if missing.
Quick mode (5k cookies, one-second loads) installs nothing: without wrk a few Python threads
stand in for it (``load_generator`` says which drove the figures), without redis-benchmark the
reference is null.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import httpx2 as httpx
import numpy as np

from benchmarks.bench_redis import (
    encoded_batches,
    load_compact,
    redis_benchmark,
    reference_tool,
    synthetic_graph,
)
from benchmarks.common import main_for
from idgraph.core import keyspace as ks
from idgraph.core.embedded import free_port, graph_server_config, start_server

API_KEY = "bench-key"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _lua_list(values: list[str]) -> str:
    return "{" + ",".join(json.dumps(v) for v in values) + "}"


def _single_script(paths: list[str]) -> str:
    return f"""
local paths = {_lua_list(paths)}
local headers = {{["X-API-Key"] = "{API_KEY}"}}
request = function()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
"""


def _batch_script(bodies: list[str]) -> str:
    return f"""
local bodies = {_lua_list(bodies)}
local headers = {{["X-API-Key"] = "{API_KEY}", ["Content-Type"] = "application/json"}}
request = function()
  return wrk.format("POST", "/v1/identity/batch", headers, bodies[math.random(#bodies)])
end
"""


def parse_wrk(output: str) -> dict[str, Any]:
    """p50/p99 (ms), requests/s and non-2xx count from ``wrk --latency`` output."""

    def latency(pct: str) -> float:
        match = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not match:
            raise RuntimeError(f"no {pct}% line in wrk output:\n{output}")
        return round(float(match.group(1)) * _UNITS[match.group(2)], 3)

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    return {
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "req_per_s": round(float(rps.group(1))) if rps else 0,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def wrk(
    base: str, script: str, *, connections: int, seconds: int, binary: str, threads: int = 1
) -> dict[str, Any]:
    """One wrk run with a Lua request generator."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [binary, f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s",
             "--latency", "-s", f.name, base],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(f.name)
    return parse_wrk(out)


def python_load(
    base: str, *, paths: list[str], bodies: list[str], connections: int, seconds: float
) -> dict[str, Any]:
    """A stand-in for wrk (quick mode without it): ``connections`` threads, each a keep-alive
    client sending random lookups (``paths``) or batches (``bodies``) for ``seconds``.

    Returns the figures ``parse_wrk`` does. Python's client costs far more per request than
    wrk's, so these figures only show that the service answers, not how fast it can.
    """
    latencies: list[float] = []
    counts = {"non_2xx": 0, "errors": 0}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        mine, bad, errors = [], 0, 0
        headers = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    if paths:
                        response = client.get(rng.choice(paths))
                    else:
                        response = client.post("/v1/identity/batch", content=rng.choice(bodies))
                except httpx.HTTPError:
                    errors += 1
                    continue
                mine.append((time.perf_counter() - started) * 1e3)
                bad += not 200 <= response.status_code < 400
        with lock:
            latencies.extend(mine)
            counts["non_2xx"] += bad
            counts["errors"] += errors

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    p50, p99 = np.percentile(latencies, [50, 99]) if latencies else (float("nan"),) * 2
    return {
        "p50_ms": round(float(p50), 3),
        "p99_ms": round(float(p99), 3),
        "req_per_s": round(len(latencies) / elapsed),
        "non_2xx": counts["non_2xx"],
        "socket_errors": f"{counts['errors']} errors" if counts["errors"] else "",
    }


def _serve(redis_port: int, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = os.environ | {"IDGRAPH_API_KEYS": API_KEY}
    cmd = [sys.executable, "-c", "from idgraph.cli import main; main()", "serve",
           "--redis-url", f"redis://127.0.0.1:{redis_port}", "--port", str(port),
           "--workers", str(workers)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("idgraph serve did not become ready")


def run(quick: bool = False) -> dict[str, Any]:
    """Serve >= 1M cookies and measure (see the module docstring)."""
    n = 5_000 if quick else 1_000_000
    seconds = 1 if quick else 20
    workers = 2
    wrk_binary = reference_tool("wrk", "wrk", quick=quick)
    get_binary = reference_tool("redis-benchmark", "redis-tools", quick=quick)

    def load(
        base: str, paths: list[str], bodies: list[str], connections: int, seconds: int
    ) -> dict[str, Any]:
        if wrk_binary is None:
            return python_load(
                base, paths=paths, bodies=bodies, connections=connections, seconds=seconds
            )
        script = _single_script(paths) if paths else _batch_script(bodies)
        return wrk(base, script, connections=connections, seconds=seconds, binary=wrk_binary)

    def raw_get(port: int, clients: int) -> float | None:
        if get_binary is None:
            return None
        return redis_benchmark(
            port, test="get", requests=n // 2, clients=clients, binary=get_binary
        )

    graph = synthetic_graph(n)
    buckets = ks.bucket_count(n, 200)
    server = start_server(config=graph_server_config())
    proc = None
    try:
        version = ks.GraphVersion(name="20240105.1", buckets=buckets, cookies=n)
        load_compact(f"redis://127.0.0.1:{server.port}", version, encoded_batches(graph, buckets))
        proc, base = _serve(server.port, workers)
        rng = random.Random(3)
        picks = rng.sample(range(n), 5000)
        paths = [f"/v1/identity/{graph['site_id'][i]}/{graph['cookie_id'][i]}" for i in picks]
        check = httpx.get(base + paths[0], headers={"X-API-Key": API_KEY})
        assert check.status_code == 200, check.text
        bodies = []
        for _ in range(200):
            chosen = rng.sample(range(n), 100)
            cookies = [
                {"site_id": graph["site_id"][i], "cookie_id": graph["cookie_id"][i]} for i in chosen
            ]
            bodies.append(json.dumps({"cookies": cookies}))
        load(base, paths, [], 8, 1 if quick else 2)  # warm-up
        single_8 = load(base, paths, [], 8, seconds)
        single_64 = load(base, paths, [], 64, seconds)
        batch_8 = load(base, [], bodies, 8, seconds)
        get_c8, get_c50 = raw_get(server.port, 8), raw_get(server.port, 50)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        server.terminate()
    reference = get_c8  # the same concurrency as the lookups it is compared with
    return {
        "cookies": n,
        "workers": workers,
        "load_generator": "wrk" if wrk_binary else "python threads (wrk not installed)",
        "wrk_seconds": seconds,
        "single_c8": single_8,
        "single_c64": single_64,
        "batch100_c8": batch_8 | {"cookies_per_s": batch_8["req_per_s"] * 100},
        "redis_benchmark_get_c8_ops_per_s": None if get_c8 is None else round(get_c8),
        "redis_benchmark_get_c50_ops_per_s": None if get_c50 is None else round(get_c50),
        "single_c8_vs_raw_get": None
        if reference is None
        else round(single_8["req_per_s"] / reference, 3),
        "target_p99_c8_met": single_8["p99_ms"] <= 5.0,
        "target_rps_c8_met": None
        if reference is None
        else single_8["req_per_s"] >= 0.1 * reference,
    }


if __name__ == "__main__":
    main_for("service")
