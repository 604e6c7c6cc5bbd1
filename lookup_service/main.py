"""The lookup service application: ``create_app(settings)``.

Run with ``idgraph serve`` (which starts the lake's embedded Valkey when no URL is given, and
runs ``create_served_app``), or ``uvicorn --factory lookup_service.main:create_app`` with
``IDGRAPH_REDIS_URL`` set.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from idgraph.core.settings import AppSettings, settings_from_json
from idgraph.core.settings.environment import SETTINGS_JSON_ENV
from lookup_service.api import errors
from lookup_service.api.deps import get_settings
from lookup_service.api.routes import docs, feedback, health, identity, optout
from lookup_service.fastpath import FastLookup
from lookup_service.guard import RequestGuard
from lookup_service.metrics import LatencyMiddleware, Metrics
from lookup_service.store import GraphStore, connect


def create_app(settings: AppSettings | None = None) -> FastAPI:
    """Build the app; ``settings`` (tests, benchmarks) replace the environment-built ones.

    Without ``settings`` the lifespan resolves ``get_settings`` once, honouring
    ``app.dependency_overrides``. The Redis client and the live-version follower live for the
    app's lifespan.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or app.dependency_overrides.get(get_settings, get_settings)()
        app.state.settings = resolved
        app.state.api_keys = [k.encode() for k in resolved.service.api_key_list()]
        app.state.feedback_keys = [k.encode() for k in resolved.service.feedback_key_list()]
        app.state.max_body_bytes = resolved.service.max_body_bytes
        store = GraphStore(connect(resolved.redis), resolved.redis)
        await store.start()
        app.state.store = store
        # Everything built so far (app, routes, models, settings) lives as long as the
        # process: freezing it keeps the cyclic GC from re-scanning it on every full
        # collection, pauses that otherwise land in the tail latency of lookups.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await store.close()

    app = FastAPI(
        title="idgraph lookup service",
        version="1.0.0",
        summary="Which person is this cookie? Unified ids for ad-exchange integrations.",
        lifespan=lifespan,
        # Metrics are Prometheus (/metrics); FastAPI's OpenTelemetry hooks would otherwise
        # look the global providers up (environment reads) on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # FastAPI's own docs routes answer anyone: ours (routes.docs) follow service.api_docs.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.metrics = Metrics()
    app.include_router(identity.router)
    app.include_router(optout.router)
    app.include_router(feedback.router)
    app.include_router(health.router)
    app.include_router(docs.router)
    errors.install(app)
    app.add_middleware(RequestGuard)  # innermost: key and body size before any body is read
    app.add_middleware(FastLookup)  # inside the latency middleware: its calls are timed too
    app.add_middleware(LatencyMiddleware, metrics=app.state.metrics)
    return app


def create_served_app() -> FastAPI:
    """The app of ``idgraph serve``'s uvicorn workers: the settings ``serve`` validated.

    uvicorn starts its workers (processes of their own) from an import string, so ``serve``
    cannot hand them an object: it puts every setting, as JSON, into ``IDGRAPH_SETTINGS_JSON``
    (``idgraph.core.settings.settings_json``), and this factory builds the app from that alone.
    """
    return create_app(settings_from_json(os.environ[SETTINGS_JSON_ENV]))
