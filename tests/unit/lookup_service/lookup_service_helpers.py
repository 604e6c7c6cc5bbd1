"""Helpers of the service tests: a tiny graph written without Spark, test settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import redis

from idgraph.core import keyspace as ks
from idgraph.core import versions
from idgraph.core.settings import RedisSettings, load_settings

API_KEY = "test-key-1"
LOGIN = "ab" * 32


def write_graph(
    client: redis.Redis,
    rows: Sequence[tuple[str, str, str, float] | tuple[str, str, str, float, str | None]],
    *,
    name: str,
    logins: dict[str, list[tuple[str, str]]] | None = None,
    fill: int = 4,
    people: bool = True,
) -> ks.GraphVersion:
    """Write ``rows`` (site, cookie, unified id, confidence[, household id]) as version
    ``name`` and switch to it.

    The same keyspace calls as the Spark loader, in plain Python, so service tests need no JVM.
    ``people=False`` writes a version as published before the person index existed.
    """
    members: dict[str, list[bytes]] = {}
    for site, cookie, uid, *_ in rows:
        members.setdefault(uid, []).append(ks.cookie_digest(site, cookie))
    shared = {uid: d for uid, d in members.items() if len(d) > 1} if people else {}
    version = ks.GraphVersion(
        name=name,
        buckets=ks.bucket_count(len(rows), fill),
        login_buckets=ks.bucket_count(len(logins), fill) if logins else 0,
        person_buckets=ks.bucket_count(len(shared), fill) if shared else 0,
        cookies=len(rows),
    )
    for uid, digests in shared.items():
        key, field = ks.person_location(version, uid)  # type: ignore[misc]
        client.hset(key, field, ks.encode_digests(digests))
    for site, cookie, uid, conf, *household in rows:
        key, field = ks.cookie_location(version, site, cookie)
        client.hset(key, field, ks.encode_value(uid, conf, *household))
    for login, cookies in (logins or {}).items():
        key, field = ks.login_location(version, login)  # type: ignore[misc]
        client.hset(key, field, ks.encode_digests(ks.cookie_digest(s, c) for s, c in cookies))
    live, _, raw = versions.read_live(client)
    previous = dataclasses.replace(live, status="previous") if live else None
    assert versions.switch_live(client, expected=raw, live=version, previous=previous)
    return version


# Behaviour tests get generous Redis budgets: a shared 2-core box stalls processes for tens of
# milliseconds. The fail-fast tests pass the production budgets (PRODUCTION_BUDGETS) instead.
RELAXED_BUDGETS = {"socket_timeout_ms": 500, "connect_timeout_ms": 500, "request_timeout_ms": 1000}
PRODUCTION_BUDGETS = {
    name: RedisSettings.model_fields[name].default
    for name in ("socket_timeout_ms", "connect_timeout_ms", "request_timeout_ms")
}


def service_settings(port: int, **redis: Any) -> Any:
    """Service settings for a local valkey on ``port``; ``redis`` overrides those fields."""
    return load_settings(
        redis={
            "url": f"redis://127.0.0.1:{port}",
            "version_poll_ms": 20,
            **RELAXED_BUDGETS,
            **redis,
        },
        service={"api_keys": f"{API_KEY}, other-key"},
    )


ROWS = [
    ("site-a", "c1", "u_00000001", 0.9, "h0000000000a1"),
    ("site-b", "c2", "u_00000001", 0.8, "h0000000000a1"),
    ("site-a", "c3", "6f1c2e3a-1b2c-4d5e-8f90-123456789abc", 1.0, "h0000000000a1"),
    ("site-c", "c4", "person-4", 0.5, None),  # as in a version without households
]
