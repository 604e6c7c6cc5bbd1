"""Issue #13 §6: no Redis password in banners and logs; the API docs are off, keyed or open.

Against a real valkey-server: ``idgraph serve`` as a real process with a password-bearing URL,
and the real app (TestClient runs its lifespan) for the docs routes.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis
from fastapi.testclient import TestClient
from lookup_service_helpers import API_KEY, ROWS, service_settings, write_graph

from idgraph.core.embedded import free_port
from idgraph.core.redaction import redact
from idgraph.core.settings import load_settings
from lookup_service.main import create_app

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "s3cret-Pa55word"
FEEDBACK_KEY = "feedback-key-1"
DOC_PATHS = ("/docs", "/redoc", "/openapi.json")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("redis://default:pw@h:6379/0", "redis://***@h:6379/0"),
        ("rediss://:tok@master.x.cache.amazonaws.com:6379", "rediss://***@master.x.cache.amazonaws.com:6379"),
        ("redis://user@h:1", "redis://***@h:1"),
        ("cannot reach redis://a:b@h:1 nor rediss://c:d@k:2.", "cannot reach redis://***@h:1 nor rediss://***@k:2."),
        ("redis://127.0.0.1:6379 (embedded)", "redis://127.0.0.1:6379 (embedded)"),
        ("mail me@example.com", "mail me@example.com"),
    ],
)  # fmt: skip
def test_redact_masks_url_credentials_only(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_cli_log_lines_carry_no_password(capsys: pytest.CaptureFixture[str]) -> None:
    from idgraph.cli.common import setup_logging

    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        setup_logging()
        logging.getLogger("idgraph.test").warning("connecting to %s", f"redis://u:{PASSWORD}@h:1")
        err = capsys.readouterr().err
    finally:
        root.handlers[:], root.level = saved, level
    assert "connecting to redis://***@h:1" in err
    assert PASSWORD not in err


def test_serve_banner_masks_the_redis_password(valkey: Any, client: redis.Redis) -> None:
    client.config_set("requirepass", PASSWORD)
    authed = redis.Redis(port=valkey.port, password=PASSWORD)
    write_graph(authed, ROWS, name="20240105.1")
    url = f"redis://default:{PASSWORD}@127.0.0.1:{valkey.port}"
    port = free_port()
    env = os.environ | {"IDGRAPH_API_KEYS": API_KEY, "COLUMNS": "300", "PYTHONUNBUFFERED": "1"}
    env.pop("IDGRAPH_REDIS_URL", None)
    serve = subprocess.Popen(
        [sys.executable, "-c", "from idgraph.cli import main; main()", "serve",
         "--redis-url", url, "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:  # the service uses the password: a real lookup answers
            assert serve.poll() is None, serve.communicate()[0]
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/v1/identity/site-a/c1",
                    headers={"X-API-Key": API_KEY},
                    timeout=1,
                )
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not answer"
            time.sleep(0.2)
        assert answer.json()["unified_id"] == "u_00000001"
    finally:
        serve.send_signal(signal.SIGINT)
        output = serve.communicate(timeout=30)[0]
        authed.close()
    assert f"redis://***@127.0.0.1:{valkey.port}" in output, output
    assert PASSWORD not in output


@pytest.fixture()
def app_with_docs(valkey: Any) -> Iterator[Any]:
    def start(mode: str) -> TestClient:
        settings = load_settings(
            redis=service_settings(valkey.port).redis.model_dump(),
            service={"api_keys": API_KEY, "feedback_api_keys": FEEDBACK_KEY, "api_docs": mode},
        )
        return TestClient(create_app(settings))

    yield start


def test_docs_off_answer_404_like_an_unknown_path(app_with_docs: Any) -> None:
    with app_with_docs("off") as api:
        unknown = api.get("/no-such-path")
        for path in DOC_PATHS:
            for headers in ({}, {"X-API-Key": API_KEY}):
                response = api.get(path, headers=headers)
                assert response.status_code == 404, path
                assert response.content == unknown.content
        assert api.get("/healthz").status_code == 200  # the rest of the service is there


def test_docs_behind_the_key(app_with_docs: Any) -> None:
    with app_with_docs("key") as api:
        for path in DOC_PATHS:
            assert api.get(path).status_code == 401, path
            assert api.get(path, headers={"X-API-Key": "wrong"}).status_code == 401, path
            for key in (API_KEY, FEEDBACK_KEY):
                assert api.get(path, headers={"X-API-Key": key}).status_code == 200, path
        spec = api.get("/openapi.json", headers={"X-API-Key": API_KEY}).json()
        assert "/v1/identity/{site_id}/{cookie_id}" in spec["paths"]
        docs = api.get("/docs", headers={"X-API-Key": API_KEY}).text
        assert "swagger-ui" in docs and "/openapi.json" in docs


def test_docs_open(app_with_docs: Any) -> None:
    with app_with_docs("open") as api:
        for path in DOC_PATHS:
            assert api.get(path).status_code == 200, path
        assert "redoc" in api.get("/redoc").text.lower()


def test_production_configuration_turns_the_docs_off(monkeypatch: pytest.MonkeyPatch) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    task = (ROOT / "terraform/modules/lookup_service/main.tf").read_text()
    assert re.search(r"^ENV [^#]*\bIDGRAPH_API_DOCS=off\b", dockerfile, re.M | re.S)
    assert '{ name = "IDGRAPH_API_DOCS", value = "off" }' in task
    monkeypatch.setenv("IDGRAPH_API_DOCS", "off")
    assert load_settings().service.api_docs == "off"
    monkeypatch.setenv("IDGRAPH_API_DOCS", "maybe")
    with pytest.raises(ValueError, match="api_docs"):
        load_settings()
