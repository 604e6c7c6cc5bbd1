"""A pure-ASGI fast path for the hottest call: ``GET /v1/identity/{site_id}/{cookie_id}``.

An auction asks for one cookie at a time, thousands of times a second. Through FastAPI that
call spends most of its time in routing, dependency solving and the exception middlewares,
not in Redis. This middleware answers the plain form of it (JSON, valid ids, a valid key)
with the same ``answer_lookup`` the FastAPI route uses, so both give byte-identical answers;
everything else (other routes, ``?format=``, invalid ids, a missing or wrong key) goes on
to the FastAPI app, which owns those answers (401, 422). A 503 (Redis unavailable) is
answered here with the body and headers of the app's own handler.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from starlette.types import ASGIApp, Receive, Scope, Send

from lookup_service.api.deps import key_allowed
from lookup_service.api.errors import UNAVAILABLE_HEADERS, unavailable_body
from lookup_service.api.routes.identity import answer_lookup
from lookup_service.models import ID_PATTERN
from lookup_service.store import StoreUnavailable

PREFIX = "/v1/identity/"
# What the latency histogram labels these requests with: the FastAPI route's template.
ROUTE = SimpleNamespace(path=PREFIX + "{site_id}/{cookie_id}")
_ID = re.compile(ID_PATTERN.removeprefix("^").removesuffix("$"))
_MAX_ID = 128
_JSON = (b"content-type", b"application/json")


class FastLookup:
    """Answer single JSON lookups directly; pass every other request on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ids = self._plain_lookup(scope)
        if ids is None:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        extra: list[tuple[bytes, bytes]] = []
        try:
            status, body = await answer_lookup(state, ids[0], ids[1], "json")
        except StoreUnavailable as exc:  # answered here: a second try would double the wait
            status, body = 503, unavailable_body(exc)
            extra = [(k.lower().encode(), v.encode()) for k, v in UNAVAILABLE_HEADERS.items()]
        scope["route"] = ROUTE
        headers = [_JSON, (b"content-length", str(len(body)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _plain_lookup(scope: Scope) -> tuple[str, str] | None:
        """(site_id, cookie_id) when this request is one the fast path may answer."""
        if scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]:
            return None
        path: str = scope["path"]
        if not path.startswith(PREFIX):
            return None
        parts = path[len(PREFIX) :].split("/")
        if len(parts) != 2 or not all(len(p) <= _MAX_ID and _ID.fullmatch(p) for p in parts):
            return None
        key = next((v for k, v in scope["headers"] if k == b"x-api-key"), b"")
        if not key_allowed(scope["app"].state.api_keys, key):
            return None
        return parts[0], parts[1]
