"""The lake's embedded Valkey: data persists across processes' start/stop, one server per lake."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from idgraph.core import keyspace as ks
from idgraph.core.embedded import redis_target, start_embedded
from idgraph.core.settings import load_settings

pytestmark = pytest.mark.redis


def test_graph_persists_and_a_running_server_is_reused(tmp_path: Path) -> None:
    first = start_embedded(str(tmp_path))
    try:
        assert first.owned
        assert (tmp_path / "redis").is_dir()
        client = redis.Redis.from_url(first.url)
        version = ks.GraphVersion("20240105.1", buckets=1, cookies=1)
        client.set(ks.LIVE_KEY, ks.encode_live(version, None))
        assert client.config_get("hash-max-listpack-entries") == {
            "hash-max-listpack-entries": "512"
        }
        # A second command on the same lake (say `serve` while `daily` publishes) shares it.
        second = start_embedded(str(tmp_path))
        assert (second.url, second.owned) == (first.url, False)
        second.stop()  # not its server: a no-op
        assert client.ping()
        client.close()
    finally:
        first.stop()

    settings = load_settings(lake={"root": str(tmp_path)})
    with redis_target(settings) as url:  # a later process: the graph is still there
        live, _ = ks.decode_live(redis.Redis.from_url(url).get(ks.LIVE_KEY))
        assert live == version
    assert not (tmp_path / "redis" / "server.json").exists()


def test_explicit_url_bypasses_the_embedded_server(tmp_path: Path) -> None:
    settings = load_settings(lake={"root": str(tmp_path)}, redis={"url": "redis://10.0.0.1:6379"})
    with redis_target(settings) as url:
        assert url == "redis://10.0.0.1:6379"
    assert not (tmp_path / "redis").exists()
