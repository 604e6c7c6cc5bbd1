"""The service against its own OpenAPI document: Schemathesis fuzzes every operation, all checks.

A real valkey-server with a published graph behind the app, served by uvicorn over loopback
HTTP; Schemathesis reads ``/openapi.json`` and sends bodies, paths and headers generated
from it (and, to see them refused, ones that break it). Any answer the document does not
describe, or a request it allows that the service refuses, fails the test.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, settings
from lookup_service_helpers import API_KEY, LOGIN, ROWS, service_settings, write_graph

from idgraph.core.embedded import graph_server_config, start_server
from lookup_service.main import create_app

sys.path.insert(0, str(Path(__file__).parents[2] / "integration"))
from redis_test_helpers import live_http

pytestmark = pytest.mark.redis
H = {"X-API-Key": API_KEY}


# The document, built the way the service builds the one it serves (checked below): the
# fuzzer's operations are collected at import time, before any server runs.
SPEC = create_app(service_settings(1)).openapi()
schema = schemathesis.openapi.from_dict(SPEC)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = start_server(config=graph_server_config())
    try:
        client = redis.Redis(port=server.port)
        write_graph(
            client, ROWS, name="20240105.1", logins={LOGIN: [("site-a", "c1"), ("site-b", "c2")]}
        )
        client.close()
        with live_http(create_app(service_settings(server.port))) as base:
            yield base
    finally:
        server.terminate()


def test_the_fuzzed_document_is_the_one_served(base_url: str) -> None:
    assert httpx.get(f"{base_url}/openapi.json", headers=H).json() == SPEC


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=2000,
    derandomize=True,  # the same examples every run: a failure here is reproducible
    suppress_health_check=list(HealthCheck),
)
def test_service_keeps_its_published_contract(case: Any, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, headers=H)
