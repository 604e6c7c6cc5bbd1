"""`idgraph serve --workers 2` on a lake's embedded server: real processes, real HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest
import redis

from idgraph.core import keyspace as ks
from idgraph.core import versions
from idgraph.core.embedded import free_port, start_embedded

pytestmark = pytest.mark.redis
KEY = "workers-key"


def test_serve_with_workers_on_the_embedded_server(tmp_path: Path) -> None:
    embedded = start_embedded(str(tmp_path))  # as `idgraph daily` would have left it
    client = redis.Redis.from_url(embedded.url)
    version = ks.GraphVersion("20240105.1", buckets=2, cookies=2)
    for cookie, uid in (("ck-1", "u" + "ab" * 12), ("ck-2", "u" + "cd" * 12)):
        client.hset(*ks.cookie_location(version, "news.example", cookie), ks.encode_value(uid, 0.9))
    assert versions.switch_live(client, expected=None, live=version, previous=None)
    port = free_port()
    env = os.environ | {"IDGRAPH_API_KEYS": KEY}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    serve = subprocess.Popen(
        [sys.executable, "-c", "from idgraph.cli import main; main()", "serve",
         "--lake", str(tmp_path), "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert serve.poll() is None, serve.stdout.read().decode() if serve.stdout else ""
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.2)
        with httpx.Client(base_url=base, headers={"X-API-Key": KEY}) as http:
            for _ in range(20):  # new connections: spread over both workers
                answer = httpx.get(
                    f"{base}/v1/identity/news.example/ck-2", headers={"X-API-Key": KEY}
                )
                assert answer.json()["unified_id"] == "u" + "cd" * 12
            metrics = http.get("/metrics").text
        hits = re.search(r'^idgraph_lookups_total\{result="hit"\} ([\d.]+)$', metrics, re.M)
        assert hits and float(hits.group(1)) == 20.0  # every worker's lookups, aggregated
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
        client.close()
        embedded.stop()
    assert serve.returncode == 0
