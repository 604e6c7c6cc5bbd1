"""``idgraph serve`` hands its workers the settings it validated, not the environment."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from lookup_service_helpers import API_KEY, ROWS, service_settings, write_graph

from idgraph.core.settings import load_settings, settings_from_json, settings_json
from idgraph.core.settings.environment import SETTINGS_JSON_ENV
from lookup_service.main import create_served_app


def test_every_setting_survives_the_handoff(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        etl={"ip_hash_key": "a-key-of-the-handoff-test-0123456789"},
        service={"api_keys": "k1,k2", "port": 9191},
        redis={"url": "redis://user:pw@cache:6380", "cluster": True},
        spark={"extra_conf": {"spark.sql.adaptive.enabled": "false"}},
        simulator={"profile": "dense"},
    )
    text = settings_json(settings)
    # Whatever the environment says later, the worker gets what serve validated.
    monkeypatch.setenv("IDGRAPH_API_KEYS", "from-the-environment")
    monkeypatch.setenv("IDGRAPH_REDIS_URL", "redis://elsewhere:1")
    back = settings_from_json(text)
    assert back == settings
    assert back.etl.ip_hash_key.get_secret_value() == "a-key-of-the-handoff-test-0123456789"
    assert (back.service.api_keys, back.redis.url) == ("k1,k2", "redis://user:pw@cache:6380")
    assert back.simulator.people == settings.simulator.people


@pytest.mark.redis
def test_the_served_app_runs_on_the_handed_settings(
    valkey: Any, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_graph(client, ROWS, name="20240105.1")
    monkeypatch.setenv(SETTINGS_JSON_ENV, settings_json(service_settings(valkey.port)))
    # A worker that rebuilt its settings from these would reach no server and know no key.
    monkeypatch.setenv("IDGRAPH_REDIS_URL", "redis://127.0.0.1:1")
    monkeypatch.setenv("IDGRAPH_API_KEYS", "not-the-key")
    with TestClient(create_served_app()) as api:
        answer = api.get("/v1/identity/site-a/c1", headers={"X-API-Key": API_KEY})
    assert answer.status_code == 200, answer.text
    assert answer.json()["unified_id"] == "u_00000001"
