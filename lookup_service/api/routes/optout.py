"""Opt-out: remove the person of a cookie, or of a login hash, from the graph now and later."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from lookup_service.api.deps import ApiKeyDep, MetricsDep, StoreDep
from lookup_service.api.errors import ERROR_RESPONSES
from lookup_service.models import OptoutRequest, OptoutResponse

router = APIRouter(prefix="/v1", tags=["optout"], dependencies=[ApiKeyDep])


@router.post(
    "/optout",
    response_model=OptoutResponse,
    summary="Opt a cookie or a login hash out",
    responses={code: ERROR_RESPONSES[code] for code in (400, 401, 422, 503)},
)
async def optout(body: OptoutRequest, store: StoreDep, metrics: MetricsDep) -> Any:
    """Record the opt-out durably and remove the person from the live graph at once.

    A cookie opt-out removes every cookie of that cookie's unified ID; a login-hash opt-out
    removes every cookie seen logged in with it and every cookie of their unified IDs.
    ``removed`` counts the cookies that left the live graph. The request is kept in Redis
    until the next daily drain moves it, with the person's cookies and login hashes, into
    the lake table ``optouts``, which every later graph excludes.
    """
    kind: Literal["cookie", "login_hash"]
    if body.login_hash is not None:
        removed = await store.optout(login_hash=body.login_hash)
        kind = "login_hash"
    else:
        assert body.site_id is not None and body.cookie_id is not None
        removed = await store.optout(site_id=body.site_id, cookie_id=body.cookie_id)
        kind = "cookie"
    metrics.optouts.labels(kind).inc()
    return OptoutResponse(kind=kind, removed=removed)
