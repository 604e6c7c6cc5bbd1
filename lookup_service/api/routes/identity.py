"""Identity lookups: one cookie, or a batch of up to 1000."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request, Response

from lookup_service.api.deps import ApiKeyDep, MetricsDep, StoreDep
from lookup_service.api.errors import ERROR_RESPONSES
from lookup_service.metrics import Metrics
from lookup_service.models import (
    EXAMPLE_IDENTITY,
    ID_PATTERN,
    ID_RULE,
    BatchRequest,
    BatchResponse,
    Eids,
    Identity,
)
from lookup_service.store import GraphStore

router = APIRouter(prefix="/v1/identity", tags=["identity"], dependencies=[ApiKeyDep])

_ID_PATH = {"min_length": 1, "max_length": 128, "pattern": ID_PATTERN}


@router.get(
    "/{site_id}/{cookie_id}",
    response_model=Identity | Eids,
    summary="The unified id of one cookie",
    responses={
        200: {
            "description": "The cookie's person, as JSON or (``?format=eids``) OpenRTB eids.",
            "content": {
                "application/json": {
                    "examples": {
                        "json": {"value": EXAMPLE_IDENTITY},
                        "eids": {
                            "value": {
                                "eids": [
                                    {
                                        "source": "idgraph.example.com",
                                        "uids": [{"id": "u_3fa85f6457174562", "atype": 3}],
                                    },
                                    {
                                        "source": "household.idgraph.example.com",
                                        "uids": [{"id": "h9c01d2e3f4a5", "atype": 501}],
                                    },
                                ]
                            }
                        },
                    }
                }
            },
        },
        404: ERROR_RESPONSES[404],
        **{code: ERROR_RESPONSES[code] for code in (401, 422, 503)},
    },
)
async def get_identity(
    site_id: Annotated[
        str,
        Path(
            description=f"Site: {ID_RULE}.",
            openapi_examples={"site": {"value": "news-site-01"}},
            **_ID_PATH,
        ),
    ],
    cookie_id: Annotated[
        str,
        Path(
            description=f"Cookie: {ID_RULE}.",
            openapi_examples={"cookie": {"value": "c-5f2b9a7e"}},
            **_ID_PATH,
        ),
    ],
    request: Request,
    format: Annotated[  # shadows the builtin: the query parameter is called format
        Literal["json", "eids"], Query(description="``eids``: OpenRTB 2.6 user.eids shape.")
    ] = "json",
) -> Any:
    """Look one cookie up in the live graph; 404 when it is unknown (never a guess)."""
    status, body = await answer_lookup(request.app.state, site_id, cookie_id, format)
    return Response(body, status_code=status, media_type="application/json")


async def answer_lookup(state: Any, site_id: str, cookie_id: str, fmt: str) -> tuple[int, bytes]:
    """Status and JSON body of a single lookup: 200 with the identity, or 404 (never a guess).

    Shared by the route above and the ASGI fast path (``lookup_service.fastpath``), so both
    answer byte for byte alike. Serialised with orjson straight from the values: the models
    document the shapes (the API tests validate answers against them) without pydantic
    validating every answer at run time.

    Raises:
        StoreUnavailable: Redis down, slow, or no graph published (a 503).
    """
    store: GraphStore = state.store
    metrics: Metrics = state.metrics
    try:
        version, found = await store.lookup(site_id, cookie_id)
    except Exception:
        metrics.errors.inc()
        raise
    if found is None:
        metrics.misses.inc()
        return 404, orjson.dumps({"detail": f"cookie {site_id}/{cookie_id} is not in the graph"})
    metrics.hits.inc()
    unified_id, confidence, household_id = found
    if fmt == "eids":
        service = state.settings.service
        eids = [{"source": service.eids_source, "uids": [{"id": unified_id, "atype": 3}]}]
        if household_id is not None:
            household = {"id": household_id, "atype": service.eids_household_atype}
            eids.append({"source": service.eids_household_source, "uids": [household]})
        return 200, orjson.dumps({"eids": eids})
    return 200, orjson.dumps(
        {
            "site_id": site_id,
            "cookie_id": cookie_id,
            "unified_id": unified_id,
            "household_id": household_id,
            "confidence": confidence,
            "graph_version": version,
        }
    )


@router.post(
    "/batch",
    response_model=BatchResponse,
    summary="Unified ids of up to 1000 cookies, in request order",
    responses={code: ERROR_RESPONSES[code] for code in (400, 401, 422, 503)},
)
async def batch_identity(body: BatchRequest, store: StoreDep, metrics: MetricsDep) -> Any:
    """Look many cookies up in one pipelined Redis round trip; unknown ones have found=false."""
    pairs = [(c.site_id, c.cookie_id) for c in body.cookies]
    try:
        version, found = await store.lookup_many(pairs)
    except Exception:
        metrics.errors.inc(len(pairs))
        raise
    hits = sum(1 for f in found if f is not None)
    metrics.hits.inc(hits)
    metrics.misses.inc(len(pairs) - hits)
    results = [
        {
            "site_id": site_id,
            "cookie_id": cookie_id,
            "found": f is not None,
            "unified_id": f[0] if f else None,
            "household_id": f[2] if f else None,
            "confidence": f[1] if f else None,
        }
        for (site_id, cookie_id), f in zip(pairs, found, strict=True)
    ]
    answer = {"graph_version": version, "results": results}
    return Response(orjson.dumps(answer), media_type="application/json")
