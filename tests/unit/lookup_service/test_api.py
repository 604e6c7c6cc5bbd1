"""The HTTP contract against a real valkey-server (TestClient runs the lifespan)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from lookup_service_helpers import API_KEY, LOGIN, ROWS, service_settings, write_graph

from idgraph.core import keyspace as ks
from lookup_service.main import create_app
from lookup_service.models import Eids, Identity

pytestmark = pytest.mark.redis
H = {"X-API-Key": API_KEY}


@pytest.fixture()
def api(valkey: Any, client: redis.Redis) -> Iterator[TestClient]:
    write_graph(
        client, ROWS, name="20240105.1", logins={LOGIN: [("site-a", "c1"), ("site-b", "c2")]}
    )
    with TestClient(create_app(service_settings(valkey.port))) as test_client:
        yield test_client


def test_single_lookup(api: TestClient) -> None:
    response = api.get("/v1/identity/site-a/c1", headers=H)
    assert response.status_code == 200
    assert response.json() == {
        "site_id": "site-a",
        "cookie_id": "c1",
        "unified_id": "u_00000001",
        "household_id": "h0000000000a1",
        "confidence": 0.902,
        "graph_version": "20240105.1",
    }
    Identity.model_validate_json(response.content, strict=True)  # the documented shape


@pytest.mark.parametrize("cookie", ["c1", "c3", "nobody"])
def test_fast_path_answers_like_the_fastapi_route(api: TestClient, cookie: str) -> None:
    # A plain GET is answered by the ASGI fast path; any query string sends the same call
    # through the FastAPI route. Both must agree byte for byte, 200s and 404s alike.
    fast = api.get(f"/v1/identity/site-a/{cookie}", headers=H)
    routed = api.get(f"/v1/identity/site-a/{cookie}?format=json", headers=H)
    assert (fast.status_code, fast.content) == (routed.status_code, routed.content)
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    assert fast.headers["content-length"] == routed.headers["content-length"]


def test_unknown_cookie_is_404(api: TestClient) -> None:
    response = api.get("/v1/identity/site-a/nobody", headers=H)
    assert response.status_code == 404
    assert "not in the graph" in response.json()["detail"]


def test_eids_format(api: TestClient) -> None:
    response = api.get("/v1/identity/site-a/c3?format=eids", headers=H)
    assert response.json() == {
        "eids": [
            {
                "source": "idgraph.example.com",
                "uids": [{"id": "6f1c2e3a-1b2c-4d5e-8f90-123456789abc", "atype": 3}],
            },
            {
                "source": "household.idgraph.example.com",
                "uids": [{"id": "h0000000000a1", "atype": 501}],
            },
        ]
    }
    Eids.model_validate_json(response.content, strict=True)


def test_without_a_household_eids_carry_the_person_alone(api: TestClient) -> None:
    response = api.get("/v1/identity/site-c/c4?format=eids", headers=H)
    assert response.json() == {
        "eids": [{"source": "idgraph.example.com", "uids": [{"id": "person-4", "atype": 3}]}]
    }
    plain = api.get("/v1/identity/site-c/c4", headers=H).json()
    assert plain["household_id"] is None
    Identity.model_validate_json(api.get("/v1/identity/site-c/c4", headers=H).content)


def test_batch_keeps_request_order_and_marks_unknown(api: TestClient) -> None:
    cookies = [
        {"site_id": "site-c", "cookie_id": "c4"},
        {"site_id": "site-a", "cookie_id": "missing"},
        {"site_id": "site-a", "cookie_id": "c1"},
    ]
    response = api.post("/v1/identity/batch", json={"cookies": cookies}, headers=H)
    assert response.status_code == 200
    body = response.json()
    assert body["graph_version"] == "20240105.1"
    assert [
        (r["cookie_id"], r["found"], r["unified_id"], r["household_id"]) for r in body["results"]
    ] == [
        ("c4", True, "person-4", None),
        ("missing", False, None, None),
        ("c1", True, "u_00000001", "h0000000000a1"),
    ]


def test_batch_over_1000_is_422(api: TestClient) -> None:
    cookies = [{"site_id": "s", "cookie_id": f"c{i}"} for i in range(1001)]
    response = api.post("/v1/identity/batch", json={"cookies": cookies}, headers=H)
    assert response.status_code == 422
    assert "cookies" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/identity/site-a/bad%20cookie", "cookie_id: must be 1-128 characters"),
        ("/v1/identity/site-a/" + "x" * 129, "cookie_id: must be 1-128 characters"),
        ("/v1/identity/site-a/c1?format=xml", "format"),
    ],
)
def test_bad_input_is_422_with_a_clear_message(api: TestClient, path: str, message: str) -> None:
    response = api.get(path, headers=H)
    assert response.status_code == 422
    assert message in response.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}])
def test_api_key_required(api: TestClient, headers: dict[str, str]) -> None:
    assert api.get("/v1/identity/site-a/c1", headers=headers).status_code == 401
    assert api.post("/v1/identity/batch", json={"cookies": []}, headers=headers).status_code == 401
    assert api.post("/v1/optout", json={"login_hash": LOGIN}, headers=headers).status_code == 401


def test_second_configured_key_works_and_health_is_open(api: TestClient) -> None:
    assert api.get("/v1/identity/site-a/c1", headers={"X-API-Key": "other-key"}).status_code == 200
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["graph_version"] == "20240105.1"


def test_metrics(api: TestClient) -> None:
    api.get("/v1/identity/site-a/c1", headers=H)
    api.get("/v1/identity/site-a/none", headers=H)
    text = api.get("/metrics").text
    assert 'idgraph_lookups_total{result="hit"} 1.0' in text
    assert 'idgraph_lookups_total{result="miss"} 1.0' in text
    assert (
        'idgraph_request_seconds_bucket{le="0.005",route="/v1/identity/{site_id}/{cookie_id}"'
        in text
    )
    assert 'idgraph_graph_version_info{version="20240105.1"} 1.0' in text


def test_optout_by_cookie_removes_at_once_and_is_recorded(
    api: TestClient, client: redis.Redis
) -> None:
    response = api.post("/v1/optout", json={"site_id": "site-c", "cookie_id": "c4"}, headers=H)
    assert response.json() == {"status": "recorded", "kind": "cookie", "removed": 1}
    assert api.get("/v1/identity/site-c/c4", headers=H).status_code == 404
    ((_, fields),) = client.xrange(ks.OPTOUTS_KEY)
    assert ks.parse_optout(fields)["cookie_id"] == "c4"


def test_optout_by_login_removes_every_cookie_of_the_person(api: TestClient) -> None:
    response = api.post("/v1/optout", json={"login_hash": LOGIN}, headers=H)
    assert response.json()["removed"] == 2
    assert api.get("/v1/identity/site-a/c1", headers=H).status_code == 404
    assert api.get("/v1/identity/site-b/c2", headers=H).status_code == 404
    assert api.get("/v1/identity/site-a/c3", headers=H).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"site_id": "s"}, "give both site_id and cookie_id"),
        ({"login_hash": "ABC"}, "login_hash: must be 64 lowercase hex"),
        ({"login_hash": LOGIN, "site_id": "s", "cookie_id": "c"}, "not both"),
    ],
)
def test_optout_bad_input(api: TestClient, body: dict[str, str], message: str) -> None:
    response = api.post("/v1/optout", json=body, headers=H)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_version_switch_is_followed(api: TestClient, client: redis.Redis) -> None:
    write_graph(client, [("site-a", "c1", "u_00000002", 0.5)], name="20240106.2")
    import time

    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        body = api.get("/v1/identity/site-a/c1", headers=H).json()
        if body["graph_version"] == "20240106.2":
            break
        time.sleep(0.02)
    assert body["unified_id"] == "u_00000002"
