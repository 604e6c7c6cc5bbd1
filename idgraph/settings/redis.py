"""Where the graph is published."""

from __future__ import annotations

from pydantic import Field

from idgraph.settings.base import IdgraphSettings, settings_config


class RedisSettings(IdgraphSettings):
    """Redis/Valkey target (env ``IDGRAPH_REDIS_*``)."""

    model_config = settings_config("REDIS_")

    url: str | None = None
    """``redis://…``/``rediss://…`` of a standalone server or a cluster node. Unset: embedded."""

    cluster: bool = False
    """Treat ``url`` as a Redis Cluster seed node."""

    socket_timeout_ms: int = Field(default=20, ge=1)
    """Per-command timeout of the lookup service (auction budget)."""
