"""Error responses: documented shapes, readable 422s, and 503 when Redis is unavailable."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from lookup_service.models import ID_RULE, LOGIN_HASH_RULE, Problem
from lookup_service.store import StoreUnavailable


def _example(detail: str) -> dict[str, Any]:
    return {"application/json": {"example": {"detail": detail}}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "The body is not text in UTF-8, so not JSON; nothing else is checked.",
        "content": _example("There was an error parsing the body"),
    },
    401: {
        "model": Problem,
        "description": "No valid X-API-Key.",
        "content": _example("missing or invalid API key"),
    },
    403: {
        "model": Problem,
        "description": "A valid key without this call's scope (a lookup key on feedback).",
        "content": _example("this API key may not send feedback"),
    },
    404: {
        "model": Problem,
        "description": "Unknown cookie (never a guessed id).",
        "content": _example("cookie news-site-01/c-0 is not in the graph"),
    },
    422: {
        "model": Problem,
        "description": "Invalid input; the detail says what is wrong.",
        "content": _example(f"cookie_id: must be {ID_RULE}"),
    },
    413: {
        "model": Problem,
        "description": "Body larger than the configured limit; not read.",
        "content": _example("body larger than 4096 bytes"),
    },
    429: {
        "model": Problem,
        "description": "Too many requests with this key; Retry-After says when to try again.",
        "content": _example("rate limit of 60 feedback requests per 60 s reached"),
    },
    503: {
        "model": Problem,
        "description": "Redis unavailable or no graph published.",
        "content": _example("redis unavailable (circuit open)"),
    },
}


def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "path", "query")]
    where = ".".join(loc) or "request"
    field = loc[-1] if loc else ""
    kinds = ("string_pattern_mismatch", "string_too_long", "string_too_short")
    if error.get("type") in kinds and field != "reason":  # free text: pydantic's words
        rule = LOGIN_HASH_RULE if field == "login_hash" else ID_RULE
        return f"{where}: must be {rule}"
    return f"{where}: {error.get('msg', 'invalid')}"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    return JSONResponse(
        {"detail": "; ".join(_describe(e) for e in errors), "errors": _plain(errors)},
        status_code=422,
    )


def _plain(errors: Any) -> list[dict[str, Any]]:
    return [
        {"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errors
    ]


UNAVAILABLE_HEADERS = {"Retry-After": "1"}


def unavailable_body(exc: Exception) -> bytes:
    """The JSON body of a 503 (shared with the ASGI fast path)."""
    return orjson.dumps({"detail": str(exc)})


async def _unavailable(request: Request, exc: Exception) -> Response:
    return Response(
        unavailable_body(exc),
        status_code=503,
        headers=UNAVAILABLE_HEADERS,
        media_type="application/json",
    )


def install(app: FastAPI) -> None:
    """Register the error handlers."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StoreUnavailable, _unavailable)
