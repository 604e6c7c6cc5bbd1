"""Loader -> lookup service through a real 3-primary Redis Cluster (with replicas), and failover."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis.cluster import RedisCluster
from redis_test_helpers import API_KEY, DAY, LOGIN, graph_rows, valkey_cluster, write_day

from idgraph.core import keyspace as ks
from idgraph.core import versions
from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from lookup_service.main import create_app
from spark_jobs.graph.publish import run_publish

pytestmark = [pytest.mark.spark, pytest.mark.redis]
H = {"X-API-Key": API_KEY}
N = 300


def test_cluster_publish_lookup_optout_rollback_failover(spark: Any, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    rows = graph_rows(N, tag="k")
    write_day(spark, lake, DAY, rows)
    write_day(spark, lake, DAY + dt.timedelta(days=1), graph_rows(N, tag="m"))
    with valkey_cluster() as servers:
        settings = load_settings(
            lake={"root": str(tmp_path)},
            redis={
                "url": f"redis://127.0.0.1:{servers[0].port}",
                "cluster": True,
                "bucket_fill": 10,  # ~30 buckets: every primary gets some
                "version_poll_ms": 20,
                "socket_timeout_ms": 1000,
                "connect_timeout_ms": 200,
                "request_timeout_ms": 3000,
            },
            service={"api_keys": API_KEY},
        )
        first = run_publish(spark, settings, DAY).summary
        second = run_publish(spark, settings, DAY + dt.timedelta(days=1)).summary
        assert first["write_mode"] == second["write_mode"] == "restore"  # RESTORE per node
        client = RedisCluster(host="127.0.0.1", port=servers[0].port)
        live, previous, _ = versions.read_live(client)
        assert (live.name, previous.name) == (second["version"], first["version"])
        owners = {
            min(2, client.keyslot(ks.cookie_key(live.name, b)) // (16384 // 3))
            for b in range(live.buckets)
        }
        assert owners == {0, 1, 2}  # the version really is spread over the three primaries

        with TestClient(create_app(settings)) as api:
            cookies = [{"site_id": r[0], "cookie_id": r[1]} for r in rows]
            body = api.post("/v1/identity/batch", json={"cookies": cookies}, headers=H).json()
            assert [r["unified_id"] for r in body["results"]] == [
                f"m_{i // 2:06x}" for i in range(N)
            ]
            single = api.get("/v1/identity/site-2/ck-00005", headers=H).json()
            assert single["unified_id"] == "m_000002"

            removed = api.post("/v1/optout", json={"login_hash": LOGIN}, headers=H).json()
            assert removed["removed"] == 2
            assert api.get("/v1/identity/site-0/ck-00000", headers=H).status_code == 404

            versions.rollback(client, retired_ttl_s=60)
            _until(
                lambda: (
                    api.get("/v1/identity/site-2/ck-00005", headers=H).json().get("unified_id")
                    == "k_000002"
                )
            )
            assert api.get("/v1/identity/site-0/ck-00000", headers=H).status_code == 404

            # A primary dies: its replica takes over; the service recovers without a restart.
            servers[0].terminate()
            _until(
                lambda: (
                    api.post("/v1/identity/batch", json={"cookies": cookies}, headers=H).status_code
                    == 200
                    and all(
                        r["found"]
                        for r in api.post(
                            "/v1/identity/batch", json={"cookies": cookies[2:]}, headers=H
                        ).json()["results"]
                    )
                ),
                timeout=30,
            )
        client.close()


def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)
