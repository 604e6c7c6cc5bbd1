"""Spark loader -> Redis -> lookup service on a real standalone valkey-server.

One scenario per test, each with its own server and lake: publish, look up over real HTTP,
opt out, publish again while a reader polls (never a mix or a miss), drain, roll back.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis
from redis_test_helpers import API_KEY, DAY, LOGIN, graph_rows, live_http, write_day

from idgraph.core import keyspace as ks
from idgraph.core import versions
from idgraph.core.embedded import graph_server_config, start_server
from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings, load_settings
from idgraph.core.stage import StageFailed
from lookup_service.main import create_app
from spark_jobs.common.io import read_partition
from spark_jobs.graph.publish import check_gate, run_publish

pytestmark = [pytest.mark.spark, pytest.mark.redis]
N = 600
H = {"X-API-Key": API_KEY}


@pytest.fixture()
def server() -> Iterator[Any]:
    srv = start_server(config=graph_server_config())
    yield srv
    srv.terminate()


def _settings(lake: Path, port: int, write_mode: str = "restore") -> AppSettings:
    return load_settings(
        lake={"root": str(lake)},
        redis={
            "url": f"redis://127.0.0.1:{port}",
            "write_mode": write_mode,
            "version_poll_ms": 20,
            "bucket_fill": 50,  # several buckets even for a tiny graph
            "load_partitions": 2,
            # Generous budgets: these tests check behaviour, not latency, on a busy machine.
            "socket_timeout_ms": 1000,
            "connect_timeout_ms": 1000,
            "request_timeout_ms": 3000,
        },
        service={"api_keys": API_KEY},
    )


def _batch(http: httpx.Client, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    cookies = [{"site_id": r[0], "cookie_id": r[1]} for r in rows]
    response = http.post("/v1/identity/batch", json={"cookies": cookies}, headers=H)
    assert response.status_code == 200, response.text
    return response.json()


def test_publish_serve_optout_republish_rollback(spark: Any, tmp_path: Path, server: Any) -> None:
    lake = Lake(str(tmp_path))
    settings = _settings(tmp_path, server.port)
    day2 = DAY + dt.timedelta(days=1)
    old, new = graph_rows(N, tag="a"), graph_rows(N, tag="b")
    write_day(spark, lake, DAY, old)
    write_day(spark, lake, day2, new)

    first = run_publish(spark, settings, DAY)
    assert first.summary["cookies"] == N
    assert first.summary["redis_bytes_per_cookie"] < 64  # tiny graph: key overhead shows
    assert 0 < first.summary["person_index_bytes_per_cookie"] < 64  # 300 people of 2 cookies

    with live_http(create_app(settings)) as base, httpx.Client(base_url=base) as http:
        body = http.get("/v1/identity/site-1/ck-00001", headers=H).json()
        assert body == {
            "site_id": "site-1",
            "cookie_id": "ck-00001",
            "unified_id": "a_000000",
            "household_id": None,  # the helper's graph predates households
            "confidence": 0.51,
            "graph_version": first.summary["version"],
        }
        # Opt-outs: a login hash carried by ck-00000 and ck-00001 (one person), and one
        # cookie, which takes its person (ck-00004 and ck-00005) with it.
        response = http.post("/v1/optout", json={"login_hash": LOGIN}, headers=H)
        assert response.json() == {"status": "recorded", "kind": "login_hash", "removed": 2}
        optout = {"site_id": "site-2", "cookie_id": "ck-00005"}
        assert http.post("/v1/optout", json=optout, headers=H).json()["removed"] == 2
        gone = [
            ("site-0", "ck-00000"),
            ("site-1", "ck-00001"),
            ("site-1", "ck-00004"),
            ("site-2", "ck-00005"),
        ]
        for site, cookie in gone:
            assert http.get(f"/v1/identity/{site}/{cookie}", headers=H).status_code == 404

        # A reader polls every cookie while day 2 is published: each answer is entirely
        # the old version or entirely the new one, and nothing present ever goes missing.
        seen: list[tuple[str, set[str]]] = []
        stop = threading.Event()
        errors: list[str] = []

        def reader() -> None:
            with httpx.Client(base_url=base) as own:
                while not stop.is_set():
                    result = _batch(own, old)
                    found = [r for r in result["results"] if r["found"]]
                    tags = {r["unified_id"][0] for r in found}
                    seen.append((result["graph_version"], tags))
                    if len(found) != N - len(gone) or len(tags) != 1:
                        errors.append(f"{result['graph_version']}: {len(found)} found, {tags}")

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            second = run_publish(spark, settings, day2)
        finally:
            stop.set()
            thread.join()
        while_publishing = {v for v, _ in seen}
        assert not errors, errors[:3]
        assert while_publishing <= {first.summary["version"], second.summary["version"]}
        assert first.summary["version"] in while_publishing
        assert {v: t for v, t in seen} == {
            v: {"a" if v == first.summary["version"] else "b"} for v in while_publishing
        }

        # The opt-outs were drained into the lake and excluded from the new graph.
        assert second.summary["optouts_drained"] == 2
        assert second.summary["cookies"] == N - len(gone)
        drained = read_partition(spark, lake, "optouts", day2).collect()
        assert sorted((r.kind, r.cookie_id, r.login_hash) for r in drained) == [
            *[("cookie", cookie, None) for _, cookie in gone],
            ("login_hash", None, LOGIN),
        ]
        client = redis.Redis(port=server.port)
        assert client.xlen(ks.OPTOUTS_KEY) == 0
        result = _batch(http, new)
        assert result["graph_version"] == second.summary["version"]
        assert {r["unified_id"][0] for r in result["results"] if r["found"]} == {"b"}
        assert sum(r["found"] for r in result["results"]) == N - len(gone)

        # Rollback: day 1 again (its opted-out cookies stay removed), day 2 expiring.
        live, retired = versions.rollback(client, retired_ttl_s=30)
        assert (live.name, retired.name) == (first.summary["version"], second.summary["version"])
        assert 0 < client.ttl(ks.cookie_key(retired.name, 0)) <= 30
        result = _batch(http, old)
        for _ in range(100):
            if result["graph_version"] == live.name:
                break
            result = _batch(http, old)
        assert result["graph_version"] == live.name
        assert sum(r["found"] for r in result["results"]) == N - len(gone)
        with pytest.raises(RuntimeError, match="no previous"):
            versions.rollback(client, retired_ttl_s=30)


@pytest.mark.parametrize("write_mode", ["restore", "hset"])
def test_gate_and_failed_publish_leave_the_live_version(
    spark: Any, tmp_path: Path, server: Any, write_mode: str
) -> None:
    lake = Lake(str(tmp_path))
    settings = _settings(tmp_path, server.port, write_mode)
    day2, day3 = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    write_day(spark, lake, DAY, graph_rows(50, tag="a"))
    write_day(
        spark,
        lake,
        day2,
        graph_rows(50, tag="b"),
        gate_passed=False,
        failures=("max_component_size", "churn"),
    )
    duplicated = graph_rows(50, tag="c")
    write_day(spark, lake, day3, duplicated + duplicated[:3])  # verification must catch this
    client = redis.Redis(port=server.port)
    published = run_publish(spark, settings, DAY).summary
    assert published["write_mode"] == write_mode
    first = published["version"]

    with pytest.raises(StageFailed, match="gate failed: max_component_size, churn"):
        run_publish(spark, settings, day2)
    with pytest.raises(StageFailed, match="verification failed: 53 rows but 50 fields"):
        run_publish(spark, settings, day3)

    live, _, _ = versions.read_live(client)
    assert live is not None and live.name == first
    assert [v.name for v in versions.registered_versions(client)] == [first]
    assert list(client.scan_iter(match="idg:c:20240107.*")) == []  # partial version removed
    assert client.get(ks.LOCK_KEY) is None

    assert check_gate(spark, lake, day2, force=True) == "forced past: max_component_size, churn"
