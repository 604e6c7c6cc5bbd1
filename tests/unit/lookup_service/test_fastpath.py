"""Which requests the ASGI fast path answers itself (the rest go to FastAPI)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from lookup_service.fastpath import FastLookup

KEY = b"k-1"


def scope(path: str, **overrides: Any) -> dict[str, Any]:
    app = SimpleNamespace(state=SimpleNamespace(api_keys=[b"other", KEY]))
    base = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"x"), (b"x-api-key", KEY)],
        "app": app,
    }
    return base | overrides


def test_a_plain_lookup_with_a_valid_key_is_fast() -> None:
    assert FastLookup._plain_lookup(scope("/v1/identity/site-a/c-1")) == ("site-a", "c-1")


@pytest.mark.parametrize(
    "request_scope",
    [
        scope("/v1/identity/site-a/c-1", query_string=b"format=eids"),
        scope("/v1/identity/site-a/c-1", method="POST"),
        scope("/v1/identity/site-a/c-1", headers=[]),
        scope("/v1/identity/site-a/c-1", headers=[(b"x-api-key", b"wrong")]),
        scope("/v1/identity/site-a/c 1"),  # invalid id: FastAPI's 422
        scope("/v1/identity/site-a/" + "c" * 129),
        scope("/v1/identity/site-a"),
        scope("/v1/identity/site-a/c-1/extra"),
        scope("/v1/identity/batch"),
        scope("/readyz"),
        scope("/v1/identity/site-a/c-1", type="websocket"),
    ],
)
def test_everything_else_goes_to_fastapi(request_scope: dict[str, Any]) -> None:
    assert FastLookup._plain_lookup(request_scope) is None
