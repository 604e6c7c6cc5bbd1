"""An opt-out keeps the whole person out: live at once, and in the next graph the job builds.

The real chain on a tiny lake and a real valkey-server: day 1's graph (written as the graph
job writes it) -> publish -> lookup service over HTTP (opt out one cookie of a
three-cookie person, and a login hash that touches several people) -> drain -> graph job
(day 2), which must leave out every
cookie of those people, the login hashes only they carried, and a new cookie logging in
with one of them, while everyone else stays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from redis_test_helpers import API_KEY, GRAPH_SCHEMA, live_http

from idgraph.core.embedded import graph_server_config, start_server
from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings, load_settings
from lookup_service.main import create_app
from spark_jobs.common.io import read_partition, write_partition
from spark_jobs.common.schemas import COOKIE_FEATURES, SCORED_PAIRS
from spark_jobs.graph.drain import run_drain
from spark_jobs.graph.job import run_graph
from spark_jobs.graph.publish import run_publish

pytestmark = [pytest.mark.spark, pytest.mark.redis]
D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
H = {"X-API-Key": API_KEY}
LOGIN_A, LOGIN_D, LOGIN_G = "a" * 64, "d" * 64, "9" * 64  # G: generic (4 cookies > 3)


def _cookie(site: str, cookie: str, login: str | None = None) -> tuple[Any, ...]:
    row = dict.fromkeys(COOKIE_FEATURES.fieldNames())
    row.update(site_id=site, cookie_id=cookie, login_hash=login, device_type="mobile")
    return tuple(row[name] for name in COOKIE_FEATURES.fieldNames())


PERSON_A = [("s1", "a1"), ("s2", "a2"), ("s3", "a3")]  # one login: one person of 3 cookies
PERSON_B = [("s1", "b1"), ("s2", "b2")]  # b1 carries the generic login, b2 joins by a pair
PERSON_C = [("s1", "c1"), ("s2", "c2")]  # likewise
LONE_G = [("s4", "g1"), ("s4", "g2")]  # generic login only: singletons
KEPT = [("s1", "d1"), ("s2", "d2"), ("s5", "x")]
DAY1 = [
    *[_cookie(s, c, LOGIN_A) for s, c in PERSON_A],
    _cookie("s1", "b1", LOGIN_G),
    _cookie("s2", "b2"),
    _cookie("s1", "c1", LOGIN_G),
    _cookie("s2", "c2"),
    *[_cookie(s, c, LOGIN_G) for s, c in LONE_G],
    _cookie("s1", "d1", LOGIN_D),
    _cookie("s2", "d2", LOGIN_D),
    _cookie("s5", "x"),
]
NEWCOMERS = [_cookie("s6", "a4", LOGIN_A), _cookie("s6", "n1")]  # a4: person A on a new site
UIDS = {"a": "u_0a", "b": "u_0b", "c": "u_0c", "d": "u_0d"}
GRAPH1 = [  # what the graph job makes of DAY1 (it does so for DAY1 + NEWCOMERS below)
    (s, c, UIDS.get(c[0], f"u_{c}"), 1, "probabilistic", 0.9)
    for s, c in PERSON_A + PERSON_B + PERSON_C + LONE_G + KEPT
]
PAIRS = [("s1", "b1", "s2", "b2", 0.9, 0.5, "m1"), ("s1", "c1", "s2", "c2", 0.9, 0.5, "m1")]


@pytest.fixture()
def server() -> Iterator[Any]:
    srv = start_server(config=graph_server_config())
    yield srv
    srv.terminate()


def _settings(lake: Path, port: int) -> AppSettings:
    return load_settings(
        lake={"root": str(lake)},
        graph={"generic_login_max_cookies": 3},
        redis={
            "url": f"redis://127.0.0.1:{port}",
            "version_poll_ms": 20,
            "bucket_fill": 4,  # several buckets of each index even for a tiny graph
            "load_partitions": 2,
            "socket_timeout_ms": 1000,
            "connect_timeout_ms": 1000,
            "request_timeout_ms": 3000,
        },
        service={"api_keys": API_KEY},
    )


def _write_day(spark: Any, lake: Lake, day: dt.date, cookies: list[tuple[Any, ...]]) -> None:
    """The graph job's inputs of ``day``: cookie features and scored pairs."""
    write_partition(spark.createDataFrame(cookies, COOKIE_FEATURES), lake, "cookie_features", day)
    write_partition(spark.createDataFrame(PAIRS, SCORED_PAIRS), lake, "scored_pairs", day)


def _status(http: httpx.Client, cookies: list[tuple[str, str]]) -> list[int]:
    return [http.get(f"/v1/identity/{s}/{c}", headers=H).status_code for s, c in cookies]


def test_optout_keeps_the_person_out_now_and_in_the_next_graph(
    spark: Any, tmp_path: Path, server: Any
) -> None:
    lake = Lake(str(tmp_path))
    settings = _settings(tmp_path, server.port)
    _write_day(spark, lake, D1, DAY1)
    write_partition(spark.createDataFrame(GRAPH1, GRAPH_SCHEMA), lake, "identity_graph", D1)
    assert run_publish(spark, settings, D1, force=True).summary["people_indexed"] == 4

    with live_http(create_app(settings)) as base, httpx.Client(base_url=base) as http:
        assert _status(http, PERSON_A) == [200] * 3
        one = {"site_id": "s2", "cookie_id": "a2"}
        response = http.post("/v1/optout", json=one, headers=H)
        assert response.json() == {"status": "recorded", "kind": "cookie", "removed": 3}
        assert _status(http, PERSON_A) == [404] * 3

        # The generic login touches four people: B, C and two singletons.
        response = http.post("/v1/optout", json={"login_hash": LOGIN_G}, headers=H)
        assert response.json() == {"status": "recorded", "kind": "login_hash", "removed": 6}
        assert _status(http, PERSON_B + PERSON_C + LONE_G) == [404] * 6
        assert _status(http, KEPT) == [200] * 3

    assert run_drain(spark, settings, D2).summary["optouts_drained"] == 2
    rows = read_partition(spark, lake, "optouts", D2).collect()
    cookies = {(r.site_id, r.cookie_id) for r in rows if r.kind == "cookie"}
    assert cookies == set(PERSON_A + PERSON_B + PERSON_C + LONE_G)
    # LOGIN_A was person A's alone; LOGIN_D is nobody's business here.
    assert {r.login_hash for r in rows if r.kind == "login_hash"} == {LOGIN_A, LOGIN_G}
    assert all(r.requested_at is not None for r in rows)

    _write_day(spark, lake, D2, DAY1 + NEWCOMERS)
    run_graph(spark, settings, D2)
    graph2 = read_partition(spark, lake, "identity_graph", D2).collect()
    assert {(r.site_id, r.cookie_id) for r in graph2} == {*KEPT, ("s6", "n1")}
    # a4 (person A's login on a new site) is left out too; d1 and d2 are still one person.
    assert len({r.unified_id for r in graph2 if r.cookie_id in ("d1", "d2")}) == 1
