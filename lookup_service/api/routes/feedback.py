"""Feedback: a user of the graph says two cookies are different people, or the same person."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from idgraph.core import keyspace as ks
from lookup_service.api.deps import FeedbackKeyDep, MetricsDep, SettingsDep, StoreDep
from lookup_service.api.errors import ERROR_RESPONSES
from lookup_service.metrics import Metrics
from lookup_service.models import FeedbackRequest, FeedbackResponse

router = APIRouter(prefix="/v1", tags=["feedback"])


def _body_doc() -> dict[str, Any]:
    """The request body's OpenAPI entry. The route reads its own body (after the key and the
    rate limit), so FastAPI cannot document it from a parameter. ``CookieRef`` is in the
    document's components already (the batch request uses it)."""
    schema = FeedbackRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _read_body(request: Request, limit: int, metrics: Metrics) -> bytes:
    """The body, or 413 as soon as it is known to exceed ``limit`` bytes (by its declared
    length, unread; or while streaming one sent without a length)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        metrics.feedback_refused.labels("too_large").inc()
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"body larger than {limit} bytes"
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            metrics.feedback_refused.labels("too_large").inc()
            raise HTTPException(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"body larger than {limit} bytes"
            )
    return bytes(body)


@router.post(
    "/feedback",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FeedbackResponse,
    summary="Say that two cookies are different people, or the same person",
    openapi_extra=_body_doc(),
    responses={code: ERROR_RESPONSES[code] for code in (400, 401, 403, 413, 422, 429, 503)},
)
async def feedback(
    request: Request,
    key_id: FeedbackKeyDep,
    store: StoreDep,
    metrics: MetricsDep,
    settings: SettingsDep,
) -> Any:
    """Record a verdict durably; it takes effect in the next daily graph (hence 202).

    ``different_people``: no later graph gives the two cookies one unified id.
    ``same_person``: a training label only (the graph never merges on a verdict). Both are
    training labels, with a cap on the weight of any one key's verdicts. The latest verdict
    on a pair wins. Needs a key from ``IDGRAPH_FEEDBACK_API_KEYS``; each key is rate-limited.
    """
    service = settings.service
    retry = await store.feedback_allowed(
        key_id, limit=service.feedback_rate_limit, window_s=service.feedback_rate_window_s
    )
    if retry is not None:
        metrics.feedback_refused.labels("rate_limited").inc()
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"rate limit of {service.feedback_rate_limit} feedback requests per "
            f"{service.feedback_rate_window_s} s reached",
            headers={"Retry-After": str(retry)},
        )
    raw = await _read_body(request, service.feedback_max_body_bytes, metrics)
    try:
        body = FeedbackRequest.model_validate_json(raw)
    except ValidationError as exc:
        metrics.feedback_refused.labels("invalid").inc()
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    received_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    entry = ks.feedback_entry(
        a=(body.a.site_id, body.a.cookie_id),
        b=(body.b.site_id, body.b.cookie_id),
        verdict=body.verdict,
        reason=body.reason or "",
        key_id=key_id,
        received_at=received_at,
    )
    await store.record_feedback(entry)
    metrics.feedback.labels(body.verdict).inc()
    return FeedbackResponse(verdict=body.verdict, received_at=received_at)
