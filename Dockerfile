# The lookup service: slim, non-root, no Spark. Build: docker build -t idgraph-lookup .
# Run:   docker run -p 8080:8080 -e IDGRAPH_REDIS_URL=redis://redis:6379 \
#          -e IDGRAPH_API_KEYS=key1,key2 idgraph-lookup
# Cluster mode (ElastiCache): add -e IDGRAPH_REDIS_CLUSTER=true.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first: this layer is reused until the lock changes.
COPY requirements/service.lock requirements/service.lock
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r requirements/service.lock
COPY pyproject.toml README.md ./
COPY idgraph idgraph
COPY lookup_service lookup_service
# The project without extras (no pyspark, no ML); --no-deps: the lock above is the truth.
RUN /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/python -c "import lookup_service.main, importlib.util as u; assert u.find_spec('pyspark') is None"

FROM python:3.11-slim
RUN groupadd --system --gid 10001 idgraph \
    && useradd --system --uid 10001 --gid idgraph --no-create-home --shell /usr/sbin/nologin idgraph
COPY --from=build /opt/venv /opt/venv
# IDGRAPH_API_DOCS=off: /docs, /redoc and /openapi.json answer 404 (see docs/operations.md).
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus IDGRAPH_API_DOCS=off
USER idgraph:idgraph
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=1)"]
# Workers share nothing but Redis; PROMETHEUS_MULTIPROC_DIR makes /metrics cover all of them.
CMD ["sh", "-c", "mkdir -p $PROMETHEUS_MULTIPROC_DIR && exec uvicorn --factory lookup_service.main:create_app --host 0.0.0.0 --port 8080 --workers ${WORKERS:-2} --http lookup_service.http:CappedHttpTools --no-access-log"]
