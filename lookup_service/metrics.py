"""Prometheus metrics of one app: request latency, lookup outcomes, the graph version served.

Each app gets its own registry (tests build many apps in one process). With several uvicorn
workers, ``idgraph serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start, and
``/metrics`` then aggregates every worker's figures.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    """The service's metric families, registered in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "idgraph_request_seconds",
            "HTTP request latency by route template and status.",
            ["route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.lookups = Counter(
            "idgraph_lookups",
            "Cookie lookups by outcome: hit, miss (unknown cookie) or error (Redis unavailable).",
            ["result"],
            registry=self.registry,
        )
        # Children bound once: ``labels()`` per request costs a lock and a dict lookup.
        self.hits = self.lookups.labels("hit")
        self.misses = self.lookups.labels("miss")
        self.errors = self.lookups.labels("error")
        self.optouts = Counter(
            "idgraph_optouts", "Opt-outs recorded, by kind.", ["kind"], registry=self.registry
        )
        self.feedback = Counter(
            "idgraph_feedback", "Feedback verdicts recorded, by verdict.", ["verdict"],
            registry=self.registry,
        )  # fmt: skip
        self.feedback_refused = Counter(
            "idgraph_feedback_refused",
            "Feedback requests refused before recording: rate_limited, too_large, invalid.",
            ["reason"],
            registry=self.registry,
        )
        self.graph_version = Gauge(
            "idgraph_graph_version_info",
            "1 for the graph version this worker serves, 0 for versions it served before.",
            ["version"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self._served: str | None = None

    def set_version(self, version: str | None) -> None:
        """Record the version being served."""
        if version == self._served:
            return
        if self._served is not None:
            self.graph_version.labels(self._served).set(0)
        if version is not None:
            self.graph_version.labels(version).set(1)
        self._served = version

    def render(self) -> tuple[bytes, str]:
        """Exposition text (every worker's, in multiprocess mode) and its content type."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class LatencyMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware) timing every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(route, str(status)).observe(time.perf_counter() - started)
