"""Builders shared by the Redis/service integration tests: a tiny lake, a live uvicorn server."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from idgraph.core.embedded import free_port
from idgraph.core.lake import Lake
from spark_jobs.common.io import write_partition

DAY = dt.date(2024, 1, 5)
API_KEY = "integration-key"
LOGIN = "cd" * 32
GRAPH_SCHEMA = (
    "site_id string, cookie_id string, unified_id string, component_size long, "
    "link_type string, confidence double"
)


def graph_rows(n: int, *, tag: str) -> list[tuple[Any, ...]]:
    """``n`` cookies on 3 sites, two cookies per person; ``tag`` makes each version's ids differ."""
    return [
        (
            f"site-{i % 3}",
            f"ck-{i:05d}",
            f"{tag}_{i // 2:06x}",
            2,
            "probabilistic",
            0.5 + (i % 50) / 100,
        )
        for i in range(n)
    ]


def write_day(
    spark: Any,
    lake: Lake,
    day: dt.date,
    rows: list[tuple[Any, ...]],
    *,
    gate_passed: bool = True,
    failures: tuple[str, ...] = (),
    features: bool = True,
) -> None:
    """identity_graph, health and (login hashes for the first two cookies) cookie_features.

    ``features=False`` leaves cookie_features out: the publish then loads no login index.
    """
    write_partition(spark.createDataFrame(rows, GRAPH_SCHEMA), lake, "identity_graph", day)
    health = spark.createDataFrame(
        [(gate_passed, list(failures))], "gate_passed boolean, gate_failures array<string>"
    )
    write_partition(health, lake, "health", day)
    if not features:
        return
    logins = spark.createDataFrame(
        [(r[0], r[1], LOGIN if i < 2 else None) for i, r in enumerate(rows)],
        "site_id string, cookie_id string, login_hash string",
    )
    write_partition(logins, lake, "cookie_features", day)


def write_live(client: Any, rows: list[tuple[Any, ...]], *, name: str) -> Any:
    """Make ``rows`` (``graph_rows`` tuples) the live version ``name`` without Spark.

    The keyspace calls of the loader in plain Python: a version for tests whose subject is
    what happens next to a live graph, not how it was loaded.
    """
    from idgraph.core import keyspace as ks
    from idgraph.core import versions

    version = ks.GraphVersion(
        name=name, buckets=ks.bucket_count(len(rows), 4), cookies=len(rows), day="2024-01-04"
    )
    pipe = client.pipeline(transaction=False)
    for site, cookie, uid, _, _, confidence in rows:
        pipe.hset(*ks.cookie_location(version, site, cookie), ks.encode_value(uid, confidence))
    pipe.execute()
    _, _, raw = versions.read_live(client)
    assert versions.switch_live(client, expected=raw, live=version, previous=None)
    return version


@contextlib.contextmanager
def live_http(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a loopback port in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _cluster_info(client: Any) -> str:
    raw = client.execute_command("CLUSTER", "INFO")
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _wait(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"cluster: {what} not reached in {timeout}s")
        time.sleep(0.1)


@contextlib.contextmanager
def valkey_cluster(primaries: int = 3) -> Iterator[list[Any]]:
    """A real Redis Cluster: ``primaries`` primaries, one replica each, from valkey-server.

    Yields the servers, primaries first. Ports (and their bus ports, +10000) are chosen free.
    """
    import redis

    from idgraph.core.embedded import graph_server_config, start_server

    config = graph_server_config() | {
        "cluster-enabled": "yes",
        "cluster-config-file": "nodes.conf",
        "cluster-node-timeout": 1000,  # fast failover for the test
        "cluster-require-full-coverage": "no",  # other slots keep serving during a failover
    }
    servers = [start_server(config=config, with_bus=True) for _ in range(2 * primaries)]
    clients = [redis.Redis(port=s.port) for s in servers]
    try:
        for c in clients[1:]:
            clients[0].execute_command(
                "CLUSTER", "MEET", "127.0.0.1", c.connection_pool.connection_kwargs["port"]
            )
        step = 16384 // primaries
        for i in range(primaries):
            end = 16383 if i == primaries - 1 else (i + 1) * step - 1
            clients[i].execute_command("CLUSTER", "ADDSLOTSRANGE", i * step, end)
        _wait(
            lambda: all(
                len(c.execute_command("CLUSTER", "NODES")) and _node_count(c) == len(clients)
                for c in clients
            ),
            "all nodes met",
        )
        for i in range(primaries):
            primary_id = clients[i].execute_command("CLUSTER", "MYID")
            clients[primaries + i].execute_command("CLUSTER", "REPLICATE", primary_id)
        _wait(lambda: all("cluster_state:ok" in _cluster_info(c) for c in clients), "state ok")
        yield servers
    finally:
        for c in clients:
            c.close()
        for s in servers:
            s.terminate()


def _node_count(client: Any) -> int:
    raw = client.execute_command("CLUSTER", "NODES")
    if isinstance(raw, dict):
        return len(raw)
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return len([line for line in text.splitlines() if line.strip()])
