"""Identity lookups: one cookie, or a batch of up to 1000."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Response

from lookup_service.api.deps import ApiKeyDep, MetricsDep, SettingsDep, StoreDep
from lookup_service.api.errors import ERROR_RESPONSES
from lookup_service.models import (
    EXAMPLE_IDENTITY,
    ID_PATTERN,
    ID_RULE,
    BatchRequest,
    BatchResponse,
    Eids,
    Identity,
)

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
                                    }
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
    store: StoreDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    format: Annotated[  # noqa: A002 - the query parameter is called format
        Literal["json", "eids"], Query(description="``eids``: OpenRTB 2.6 user.eids shape.")
    ] = "json",
) -> Any:
    """Look one cookie up in the live graph; 404 when it is unknown (never a guess).

    The answer is serialised with orjson straight from the values (the hot path of the
    service): ``response_model`` documents the shapes, and tests validate answers against
    the models, without pydantic validating every response at run time.
    """
    try:
        version, found = await store.lookup(site_id, cookie_id)
    except Exception:
        metrics.errors.inc()
        raise
    if found is None:
        metrics.misses.inc()
        raise HTTPException(404, f"cookie {site_id}/{cookie_id} is not in the graph")
    metrics.hits.inc()
    unified_id, confidence = found
    if format == "eids":
        uid = {"id": unified_id, "atype": 3}
        answer: dict[str, Any] = {"eids": [{"source": settings.service.eids_source, "uids": [uid]}]}
    else:
        answer = {
            "site_id": site_id,
            "cookie_id": cookie_id,
            "unified_id": unified_id,
            "confidence": confidence,
            "graph_version": version,
        }
    return Response(orjson.dumps(answer), media_type="application/json")


@router.post(
    "/batch",
    response_model=BatchResponse,
    summary="Unified ids of up to 1000 cookies, in request order",
    responses={code: ERROR_RESPONSES[code] for code in (401, 422, 503)},
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
            "confidence": f[1] if f else None,
        }
        for (site_id, cookie_id), f in zip(pairs, found, strict=True)
    ]
    answer = {"graph_version": version, "results": results}
    return Response(orjson.dumps(answer), media_type="application/json")
