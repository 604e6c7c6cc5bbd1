"""Where the graph is published, and how the loader and the service talk to Redis."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from idgraph.core.settings.base import IdgraphSettings, settings_config


class RedisSettings(IdgraphSettings):
    """Redis/Valkey target (env ``IDGRAPH_REDIS_*``)."""

    model_config = settings_config("REDIS_")

    url: str | None = None
    """``redis://…``/``rediss://…`` of a standalone server or a cluster node. Unset: embedded."""

    cluster: bool = False
    """Treat ``url`` as a Redis Cluster seed node."""

    socket_timeout_ms: int = Field(default=20, ge=1)
    """Per-command timeout of the lookup service (auction budget)."""

    connect_timeout_ms: int = Field(default=20, ge=1)
    """Connect timeout of the lookup service; a dead server must not cost seconds."""

    request_timeout_ms: int = Field(default=40, ge=1)
    """Deadline of one lookup request's Redis work; past it the service answers 503."""

    retries: int = Field(default=1, ge=0, le=1)
    """Retries of a failed command on a fresh connection (0 or 1: more only adds latency)."""

    breaker_failures: int = Field(default=3, ge=1)
    """Consecutive Redis failures that open the service's circuit breaker."""

    breaker_reset_ms: int = Field(default=500, ge=10)
    """How long the breaker stays open before one trial request may pass."""

    version_poll_ms: int = Field(default=200, ge=10)
    """How often the service re-reads the live-version pointer."""

    max_connections: int = Field(default=64, ge=1)
    """Connection pool size per service worker."""

    bucket_fill: int = Field(default=200, ge=1)
    """Average cookies per hash bucket; larger buckets amortise key overhead better."""

    listpack_entries: int = Field(default=512, ge=1)
    """``hash-max-listpack-entries`` the loader sets (and requires): above the largest bucket."""

    listpack_value: int = Field(default=64, ge=1)
    """``hash-max-listpack-value`` the loader sets: above the longest stored value."""

    configure_server: bool = True
    """Let the loader ``CONFIG SET`` the listpack limits (managed Redis: a parameter group)."""

    load_partitions: int | None = Field(default=None, ge=1)
    """Spark partitions (= parallel Redis clients) of the load; unset: Spark's default."""

    load_batch_fields: int = Field(default=20_000, ge=1)
    """Fields sent per pipeline round trip by one loader client."""

    write_mode: Literal["restore", "hset"] = "restore"
    """How the loader writes a bucket: ``RESTORE`` of a listpack built client-side (falls
    back to ``HSET`` when the server refuses ``DUMP``/``RESTORE``), or ``HSET`` of its fields."""

    verify_sample: int = Field(default=200, ge=0)
    """Cookies read back through the lookup path before a new version goes live."""

    retired_ttl_s: int = Field(default=3600, ge=1)
    """Seconds a version older than the rollback target lives on before Redis expires it."""

    publish_lock_ttl_s: float = Field(default=60.0, ge=1.0, le=600.0)
    """TTL of the publish lock; the running publish renews it every third of that, so a
    publisher that died frees the lock within this many seconds."""

    embedded_port: int | None = Field(default=None, ge=1, le=65535)
    """Port of the embedded server; unset: a free one."""
