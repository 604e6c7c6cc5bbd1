"""Fixtures of the service tests: a real valkey-server per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from idgraph.core.embedded import graph_server_config, start_server


@pytest.fixture()
def valkey() -> Iterator[Any]:
    """A fresh valkey-server per test (0.1 s), killed afterwards."""
    server = start_server(config=graph_server_config())
    yield server
    server.terminate()


@pytest.fixture()
def client(valkey: Any) -> Iterator[redis.Redis]:
    """A plain client of that server."""
    c = redis.Redis(port=valkey.port)
    yield c
    c.close()
