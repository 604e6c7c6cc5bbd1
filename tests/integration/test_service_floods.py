"""Floods against the real running service over real HTTP (uvicorn, real valkey-server)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import psutil
import pytest
import redis
from redis_test_helpers import API_KEY, live_http

from idgraph.core import keyspace as ks
from idgraph.core import versions
from idgraph.core.embedded import graph_server_config, start_server
from idgraph.core.settings import load_settings
from lookup_service.main import create_app

pytestmark = pytest.mark.redis
MB = 1 << 20
UID = "u" + "ab" * 12


@pytest.fixture()
def base() -> Iterator[str]:
    server = start_server(config=graph_server_config())
    client = redis.Redis(port=server.port)
    version = ks.GraphVersion("20240105.1", buckets=1, cookies=1)
    client.hset(*ks.cookie_location(version, "news.example", "ck-1"), ks.encode_value(UID, 0.9))
    assert versions.switch_live(client, expected=None, live=version, previous=None)
    settings = load_settings(
        redis={"url": f"redis://127.0.0.1:{server.port}", "request_timeout_ms": 3000,
               "socket_timeout_ms": 1000, "connect_timeout_ms": 1000},
        service={"api_keys": API_KEY},
    )  # fmt: skip
    with live_http(create_app(settings)) as url:
        yield url
    client.close()
    server.terminate()


def _post_raw(
    base: str, headers: dict[str, str], body_bytes: int, prefix: bytes = b""
) -> tuple[str, float]:
    """Send the headers, then up to ``body_bytes`` of body; return the status line and the
    seconds until it arrived (the body is abandoned once the server has answered)."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    started = time.perf_counter()
    sock.sendall(f"POST /v1/identity/batch HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + prefix)
    sock.setblocking(False)
    chunk = b"x" * 65536
    sent = 0
    answer = b""
    while sent < body_bytes:
        try:
            answer += sock.recv(4096)
            if answer:
                break
        except BlockingIOError:
            pass
        try:
            sent += sock.send(chunk)
        except (BlockingIOError, BrokenPipeError, ConnectionResetError):
            time.sleep(0.001)
    sock.setblocking(True)
    while b"\r\n" not in answer:
        answer += sock.recv(4096)
    elapsed = time.perf_counter() - started
    sock.close()
    return answer.split(b"\r\n")[0].decode(), elapsed


def test_floods_are_refused_unread_and_lookups_keep_answering(base: str) -> None:
    rss = psutil.Process().memory_info().rss
    errors: list[Any] = []
    lookups: list[float] = []
    stop = threading.Event()

    def reader() -> None:
        with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}) as http:
            while not stop.is_set():
                t = time.perf_counter()
                r = http.get("/v1/identity/news.example/ck-1")
                lookups.append(time.perf_counter() - t)
                if r.status_code != 200 or r.json()["unified_id"] != UID:
                    errors.append(r.status_code)

    thread = threading.Thread(target=reader)
    thread.start()
    while len(lookups) < 3 and thread.is_alive():  # the reader is up before the floods
        time.sleep(0.01)
    try:
        declared = {"Content-Type": "application/json", "Content-Length": str(40 * MB)}
        status, seconds = _post_raw(base, declared, 40 * MB)  # no key
        assert status.endswith("401 Unauthorized") and seconds < 0.5, (status, seconds)
        keyed = declared | {"X-API-Key": API_KEY}
        status, seconds = _post_raw(base, keyed, 40 * MB)
        assert status.endswith("413 Request Entity Too Large") or " 413 " in status, status
        assert seconds < 0.5, seconds
        chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        for headers in (chunked, chunked | {"X-API-Key": API_KEY}):
            # One 40 MB chunk: "<hex size>\r\n", then its data, streamed.
            status, seconds = _post_raw(base, headers, 40 * MB, f"{40 * MB:x}\r\n".encode())
            assert " 401 " in status or " 413 " in status, status
            assert seconds < 1.0, seconds
        # Four unauthenticated 40 MB bodies at once.
        results: list[tuple[str, float]] = []
        posts = [
            threading.Thread(target=lambda: results.append(_post_raw(base, declared, 40 * MB)))
            for _ in range(4)
        ]
        for p in posts:
            p.start()
        for p in posts:
            p.join()
        assert all(" 401 " in s for s, _ in results), results
    finally:
        stop.set()
        thread.join()
    assert not errors, errors[:5]
    assert len(lookups) >= 3 and max(lookups) < 0.5, (len(lookups), max(lookups))
    assert psutil.Process().memory_info().rss - rss < 40 * MB  # the bodies were never held


def test_a_normal_batch_still_works(base: str) -> None:
    with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}) as http:
        cookies = [{"site_id": "news.example", "cookie_id": "ck-1"}] * 1000
        r = http.post("/v1/identity/batch", json={"cookies": cookies})
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["unified_id"] == UID
        assert (
            http.post(
                "/v1/identity/batch", json={"cookies": cookies}, headers={"X-API-Key": "no"}
            ).status_code
            == 401
        )


def test_oversized_headers_get_431_and_normal_ones_pass() -> None:
    import uvicorn

    from idgraph.core.embedded import free_port
    from lookup_service.http import CappedHttpTools

    port = free_port()
    app = create_app(load_settings(service={"api_keys": API_KEY}))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, http=CappedHttpTools, lifespan="off",
                       log_level="warning")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/healthz").status_code == 200
        for size in (20_000, 1 * MB):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            try:
                sock.sendall(b"a" * size + b"\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = sock.recv(4096)
            sock.close()
            assert answer.startswith(b"HTTP/1.1 431 "), (size, answer[:80])
        assert httpx.get(f"{url}/healthz", headers={"X-Ok": "b" * 4000}).status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
