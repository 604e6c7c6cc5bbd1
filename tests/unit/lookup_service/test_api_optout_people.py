"""An opt-out removes people: every cookie of the unified ids it touches (real valkey-server).

The service (async) and the publish stage (sync, ``optouts_drain.apply_optouts``) delete by
the same rule, ``idgraph.core.optout_rule``; both are run here against the same graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from lookup_service_helpers import API_KEY, service_settings, write_graph

from idgraph.core import keyspace as ks
from lookup_service.main import create_app
from spark_jobs.common.optouts_drain import apply_optouts

pytestmark = pytest.mark.redis
H = {"X-API-Key": API_KEY}
SHARED = "5e" * 32  # carried by one cookie of person u_01 and one of person u_02

PERSON_1 = [("site-a", "p1"), ("site-b", "p2"), ("site-c", "p3")]
PERSON_2 = [("site-a", "q1"), ("site-b", "q2")]
OTHERS = [("site-a", "r1"), ("site-b", "s1"), ("site-c", "s2")]  # u_03 alone; u_04 has two
ROWS = [
    *[(s, c, "u_01", 0.9) for s, c in PERSON_1],
    *[(s, c, "u_02", 0.8) for s, c in PERSON_2],
    ("site-a", "r1", "u_03", 1.0),
    ("site-b", "s1", "u_04", 0.7),
    ("site-c", "s2", "u_04", 0.7),
]
LOGINS = {SHARED: [("site-a", "p1"), ("site-a", "q1")]}


@pytest.fixture()
def api(valkey: Any, client: redis.Redis) -> Iterator[TestClient]:
    write_graph(client, ROWS, name="20240105.1", logins=LOGINS)
    with TestClient(create_app(service_settings(valkey.port))) as test_client:
        yield test_client


def _found(api: TestClient, cookies: list[tuple[str, str]]) -> list[bool]:
    return [api.get(f"/v1/identity/{s}/{c}", headers=H).status_code == 200 for s, c in cookies]


def test_optout_of_one_cookie_removes_its_person(api: TestClient) -> None:
    response = api.post("/v1/optout", json={"site_id": "site-b", "cookie_id": "p2"}, headers=H)
    assert response.status_code == 200
    assert response.json() == {"status": "recorded", "kind": "cookie", "removed": 3}
    assert _found(api, PERSON_1) == [False, False, False]
    assert _found(api, PERSON_2 + OTHERS) == [True] * 5
    # Asked again: the person is gone already, nothing more to remove.
    again = api.post("/v1/optout", json={"site_id": "site-a", "cookie_id": "p1"}, headers=H)
    assert again.json()["removed"] == 0


def test_optout_by_login_removes_every_person_it_touches(api: TestClient) -> None:
    response = api.post("/v1/optout", json={"login_hash": SHARED}, headers=H)
    assert response.json() == {"status": "recorded", "kind": "login_hash", "removed": 5}
    assert _found(api, PERSON_1 + PERSON_2) == [False] * 5
    assert _found(api, OTHERS) == [True] * 3


def test_previous_version_loses_the_person_too(valkey: Any, client: redis.Redis) -> None:
    old = write_graph(client, ROWS, name="20240104.1", logins=LOGINS)
    new = write_graph(client, ROWS, name="20240105.2", logins=LOGINS)
    with TestClient(create_app(service_settings(valkey.port))) as api:
        body = {"site_id": "site-c", "cookie_id": "p3"}
        assert api.post("/v1/optout", json=body, headers=H).json()["removed"] == 3
    for version in (old, new):  # a rollback must not bring the person back
        held = [client.hget(*ks.cookie_location(version, s, c)) for s, c in PERSON_1]
        assert held == [None, None, None], version.name


def test_publish_applies_the_same_rule(client: redis.Redis) -> None:
    version = write_graph(client, ROWS, name="20240105.1", logins=LOGINS)
    entries = [
        ks.optout_entry(kind="cookie", site_id="site-b", cookie_id="q2", requested_at="t"),
        ks.optout_entry(kind="cookie", site_id="site-c", cookie_id="s2", requested_at="t"),
    ]
    assert apply_optouts(client, version, entries) == 4  # q1, q2, s1, s2
    left = [client.hget(*ks.cookie_location(version, s, c)) is not None for s, c, *_ in ROWS]
    assert left == [True, True, True, False, False, True, False, False]


def test_version_without_person_index_removes_the_named_cookie(
    valkey: Any, client: redis.Redis
) -> None:
    write_graph(client, ROWS, name="20240105.1", logins=LOGINS, people=False)
    with TestClient(create_app(service_settings(valkey.port))) as api:
        body = {"site_id": "site-b", "cookie_id": "p2"}
        assert api.post("/v1/optout", json=body, headers=H).json()["removed"] == 1
        assert _found(api, PERSON_1) == [True, False, True]
