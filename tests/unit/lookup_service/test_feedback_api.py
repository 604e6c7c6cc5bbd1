"""``POST /v1/feedback`` against a real valkey-server: scope, validation, limits, durability."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from lookup_service_helpers import API_KEY, ROWS, service_settings, write_graph

from idgraph.core import keyspace as ks
from idgraph.core.embedded import start_embedded
from idgraph.core.settings import load_settings
from lookup_service.main import create_app
from lookup_service.models import FeedbackResponse

pytestmark = pytest.mark.redis
FEEDBACK_KEY = "feedback-key-1"
LOOKUP = {"X-API-Key": API_KEY}
FEEDBACK = {"X-API-Key": FEEDBACK_KEY}
BODY = {
    "a": {"site_id": "site-a", "cookie_id": "c1"},
    "b": {"site_id": "site-b", "cookie_id": "c2"},
    "verdict": "different_people",
    "reason": "mail me at jane.doe@example.com, seen from 203.0.113.7 and 2001:db8::1",
}


def _app(port: int, **service: Any) -> Any:
    base = service_settings(port)
    settings = load_settings(
        redis=base.redis.model_dump(),
        service={**base.service.model_dump(), "feedback_api_keys": FEEDBACK_KEY, **service},
    )
    return create_app(settings)


@pytest.fixture()
def api(valkey: Any, client: redis.Redis) -> Iterator[TestClient]:
    write_graph(client, ROWS, name="20240105.1")
    with TestClient(_app(valkey.port, feedback_rate_limit=3)) as test_client:
        yield test_client


def test_feedback_is_recorded_durably_before_202(api: TestClient, client: redis.Redis) -> None:
    response = api.post("/v1/feedback", json=BODY, headers=FEEDBACK)
    assert response.status_code == 202
    answer = FeedbackResponse.model_validate_json(response.content, strict=True)
    assert answer.verdict == "different_people"
    ((_, fields),) = client.xrange(ks.FEEDBACK_KEY)
    entry = ks.parse_feedback(fields)
    assert (entry["site_id_a"], entry["cookie_id_a"], entry["cookie_id_b"]) == (
        "site-a",
        "c1",
        "c2",
    )
    assert entry["verdict"] == "different_people"
    assert entry["received_at"] == answer.received_at
    # Who sent it, irreversibly; never the key itself, never an e-mail or IP address.
    assert entry["key_id"] == ks.api_key_id(FEEDBACK_KEY) != FEEDBACK_KEY
    assert FEEDBACK_KEY not in str(fields)
    assert entry["reason"] == "mail me at [email], seen from [ip] and [ip]"


def test_feedback_survives_a_server_restart(tmp_path: Path) -> None:
    # Acknowledged means kept: the lake's embedded server (append-only file) brings it back.
    embedded = start_embedded(str(tmp_path))
    with redis.Redis.from_url(embedded.url) as c:
        write_graph(c, ROWS, name="20240105.1")
    port = int(embedded.url.rsplit(":", 1)[1])
    with TestClient(_app(port)) as http:
        assert http.post("/v1/feedback", json=BODY, headers=FEEDBACK).status_code == 202
    embedded.stop()
    again = start_embedded(str(tmp_path))
    try:
        with redis.Redis.from_url(again.url) as c:
            assert [ks.parse_feedback(f)["cookie_id_b"] for _, f in c.xrange(ks.FEEDBACK_KEY)] == [
                "c2"
            ]
    finally:
        again.stop()


def test_scopes_lookup_key_gets_403_feedback_key_cannot_look_up(api: TestClient) -> None:
    assert api.post("/v1/feedback", json=BODY, headers=LOOKUP).status_code == 403
    assert api.post("/v1/feedback", json=BODY).status_code == 401
    assert api.post("/v1/feedback", json=BODY, headers={"X-API-Key": "nope"}).status_code == 401
    assert api.get("/v1/identity/site-a/c1", headers=LOOKUP).status_code == 200
    assert api.get("/v1/identity/site-a/c1", headers=FEEDBACK).status_code == 401


def test_auth_comes_before_the_body_is_read(api: TestClient) -> None:
    # An unauthorised caller learns nothing about its body, not even that it is too large.
    huge = b"x" * 100_000
    assert api.post("/v1/feedback", content=huge, headers=LOOKUP).status_code == 403
    assert api.post("/v1/feedback", content=huge, headers=FEEDBACK).status_code == 413


def test_rate_limit_per_key(api: TestClient, client: redis.Redis) -> None:
    codes = [api.post("/v1/feedback", json=BODY, headers=FEEDBACK).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]
    refused = api.post("/v1/feedback", json=BODY, headers=FEEDBACK)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(client.xrange(ks.FEEDBACK_KEY)) == 3  # refused requests record nothing


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"verdict": "maybe"}, "verdict"),
        ({"b": {"site_id": "site-a", "cookie_id": "c1"}}, "two different cookies"),
        ({"reason": "x" * 501}, "reason"),
        ({"a": {"site_id": "site a", "cookie_id": "c1"}}, "a.site_id: must be"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_bodies_get_422(
    api: TestClient, client: redis.Redis, change: dict[str, Any], message: str
) -> None:
    response = api.post("/v1/feedback", json=BODY | change, headers=FEEDBACK)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert client.xlen(ks.FEEDBACK_KEY) == 0


def test_not_json_is_422(api: TestClient) -> None:
    response = api.post("/v1/feedback", content=b"{not json", headers=FEEDBACK)
    assert response.status_code == 422
