"""Shared fixtures of the feedback tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from idgraph.core.embedded import graph_server_config, start_server


@pytest.fixture()
def client() -> Iterator[redis.Redis]:
    """A client of a fresh real Valkey server, stopped afterwards."""
    server = start_server(config=graph_server_config())
    c = redis.Redis(port=server.port)
    yield c
    c.close()
    server.terminate()
