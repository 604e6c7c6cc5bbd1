"""The API's own documentation: ``/openapi.json``, ``/docs`` (Swagger UI), ``/redoc``.

FastAPI's built-in routes answer anyone; these answer as ``service.api_docs`` says (read from
the settings the app started with, so every way of starting it agrees): ``off`` answers 404
exactly as an unknown path does, ``key`` wants a lookup or feedback key in ``X-API-Key``
(401 otherwise), ``open`` answers anyone.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from lookup_service.api.deps import key_allowed

OPENAPI_PATH = "/openapi.json"


def docs_answer(mode: str, has_key: bool) -> int | None:
    """The error status for a docs request under ``mode`` (None: serve it)."""
    if mode == "open" or (mode == "key" and has_key):
        return None
    return status.HTTP_401_UNAUTHORIZED if mode == "key" else status.HTTP_404_NOT_FOUND


async def docs_allowed(request: Request) -> None:
    """Refuse a docs request as ``service.api_docs`` says (404 or 401)."""
    given = request.headers.get("x-api-key", "").encode()
    state = request.app.state
    has_key = key_allowed(state.api_keys, given) or key_allowed(state.feedback_keys, given)
    code = docs_answer(state.settings.service.api_docs, has_key)
    if code == status.HTTP_404_NOT_FOUND:
        raise HTTPException(code)  # the body of any unknown path
    if code is not None:
        raise HTTPException(
            code, "missing or invalid API key", headers={"WWW-Authenticate": "ApiKey"}
        )


router = APIRouter(include_in_schema=False, dependencies=[Depends(docs_allowed)])


@router.get(OPENAPI_PATH)
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title=f"{request.app.title} - docs")


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(openapi_url=OPENAPI_PATH, title=f"{request.app.title} - ReDoc")
