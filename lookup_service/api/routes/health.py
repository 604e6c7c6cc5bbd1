"""Health endpoints (no API key): liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from lookup_service.api.deps import MetricsDep, StoreDep
from lookup_service.models import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Process alive")
async def healthz() -> Any:
    """Always ok while the process serves HTTP."""
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Redis reachable and a graph published",
    responses={503: {"model": Readiness, "description": "Not ready: the reason says why."}},
)
async def readyz(store: StoreDep, metrics: MetricsDep) -> Any:
    """Ready when Redis answers a PING within the deadline and a live version is known."""
    version = store.live.name if store.live else None
    metrics.set_version(version)
    reason = None
    if not await store.ping():
        reason = "redis unreachable"
    elif version is None:
        reason = "no graph version published"
    if reason:
        body = Readiness(status="not ready", graph_version=version, reason=reason)
        return JSONResponse(body.model_dump(), status_code=503)
    return Readiness(status="ready", graph_version=version)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition.",
            "content": {
                "text/plain": {
                    "example": "# TYPE idgraph_lookups_total counter\n"
                    'idgraph_lookups_total{result="hit"} 1523.0\n'
                }
            },
        }
    },
)
async def metrics(store: StoreDep, metrics: MetricsDep) -> Response:
    """Latency histogram, lookup outcomes and the graph version served."""
    metrics.set_version(store.live.name if store.live else None)
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
