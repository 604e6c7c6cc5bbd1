"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

import hmac
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from idgraph.settings import AppSettings, load_settings
from lookup_service.metrics import Metrics
from lookup_service.store import GraphStore


@lru_cache
def get_settings() -> AppSettings:
    """Settings from the environment, built once; tests override this dependency."""
    return load_settings()


SettingsDep = Annotated[AppSettings, Depends(get_settings)]


def get_store(request: Request) -> GraphStore:
    """The graph store opened in the app's lifespan."""
    store: GraphStore = request.app.state.store
    return store


def get_metrics(request: Request) -> Metrics:
    """The app's metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


StoreDep = Annotated[GraphStore, Depends(get_store)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="One of the keys in IDGRAPH_API_KEYS."
)


def require_api_key(
    settings: SettingsDep, key: Annotated[str | None, Security(_api_key_header)]
) -> None:
    """Accept the request only with a configured API key (constant-time comparison).

    Every configured key is compared, so the time taken does not reveal which one matched.
    """
    given = (key or "").encode()
    matched = False
    for candidate in settings.service.api_key_list():
        matched |= hmac.compare_digest(candidate.encode(), given)
    if not key or not matched:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid API key",
            headers={"WWW-Authenticate": "ApiKey"},
        )


ApiKeyDep = Depends(require_api_key)
