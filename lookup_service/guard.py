"""A pure-ASGI guard in front of every route: the API key and the body size, before any body
byte is read.

FastAPI reads and parses a request's whole body before its dependencies (the API-key check)
run, so without this an unauthenticated 40 MB POST is buffered and parsed before it is refused.
Here a request that carries a body gets 401 without a known key (lookup or feedback scope; the
routes still check their own scope), 413 when its ``Content-Length`` exceeds
``service.max_body_bytes``, and 413 as soon as a body sent without a length (chunked) grows
past it. Requests without a body pass unchanged (their routes answer 401 themselves).
"""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lookup_service.api.deps import key_allowed


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit (FastAPI re-raises
    ``HTTPException`` from its body reading, so the app's handler answers 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body larger than {limit} bytes")


async def _problem(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = orjson.dumps({"detail": detail})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the unread body must not be parsed as the next request
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """Refuse unauthenticated or oversized bodies before reading them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        chunked = False
        key = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"x-api-key":
                key = value
        if not chunked and length in (None, b"0"):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        if not (key_allowed(state.api_keys, key) or key_allowed(state.feedback_keys, key)):
            await _problem(
                send, 401, "missing or invalid API key", [(b"www-authenticate", b"ApiKey")]
            )
            return
        limit: int = state.max_body_bytes
        if length is not None and length.isdigit() and int(length) > limit:
            await _problem(send, 413, f"body larger than {limit} bytes", [])
            return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, capped_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _problem(send, 413, f"body larger than {limit} bytes", [])
