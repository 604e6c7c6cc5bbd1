"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

import hmac
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from idgraph.core.keyspace import api_key_id
from idgraph.core.settings import AppSettings, load_settings
from lookup_service.metrics import Metrics
from lookup_service.store import GraphStore


@lru_cache
def get_settings() -> AppSettings:
    """Settings from the environment, built once; tests override this dependency.

    The app's lifespan resolves it once (honouring ``app.dependency_overrides``) and keeps the
    result in ``app.state``: per-request resolution of an override costs FastAPI a signature
    analysis on every call.
    """
    return load_settings()


# Every dependency below is ``async def``: FastAPI runs plain ``def`` dependencies in a
# thread pool, which costs more than the whole Redis lookup.


async def app_settings(request: Request) -> AppSettings:
    """The settings the app was started with (see ``get_settings``)."""
    settings: AppSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[AppSettings, Depends(app_settings)]


async def get_store(request: Request) -> GraphStore:
    """The graph store opened in the app's lifespan."""
    store: GraphStore = request.app.state.store
    return store


async def get_metrics(request: Request) -> Metrics:
    """The app's metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


StoreDep = Annotated[GraphStore, Depends(get_store)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="One of the keys in IDGRAPH_API_KEYS."
)


async def require_api_key(
    request: Request, key: Annotated[str | None, Security(_api_key_header)]
) -> None:
    """Accept the request only with a configured API key (constant-time comparison).

    Every configured key is compared, so the time taken does not reveal which one matched.
    """
    if not key_allowed(request.app.state.api_keys, (key or "").encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid API key",
            headers={"WWW-Authenticate": "ApiKey"},
        )


ApiKeyDep = Depends(require_api_key)

_feedback_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="FeedbackKey",
    auto_error=False,
    description="One of the keys in IDGRAPH_FEEDBACK_API_KEYS.",
)


async def require_feedback_key(
    request: Request, key: Annotated[str | None, Security(_feedback_key_header)]
) -> str:
    """Accept only a feedback-scoped key: 401 without a known key, 403 for a lookup-only key.

    Runs before the body is read (the route reads it itself, after this and the rate limit).

    Returns:
        The key's irreversible id (``keyspace.api_key_id``), recorded with the verdict.
    """
    given = (key or "").encode()
    if key_allowed(request.app.state.feedback_keys, given):
        return api_key_id(key or "")
    if key_allowed(request.app.state.api_keys, given):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this API key may not send feedback")
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "missing or invalid API key",
        headers={"WWW-Authenticate": "ApiKey"},
    )


FeedbackKeyDep = Annotated[str, Depends(require_feedback_key)]


def key_allowed(api_keys: list[bytes], given: bytes) -> bool:
    """True when ``given`` is one of ``api_keys``; every key is compared in constant time."""
    matched = False
    for candidate in api_keys:
        matched |= hmac.compare_digest(candidate, given)
    return bool(given) and matched
