"""A publish that dies mid-write, and a lock held by a live publisher, on a real valkey-server.

The dying publisher is a real ``idgraph publish`` process (its own JVM and Python workers),
SIGKILLed as a lost EMR node would be while its executors write buckets. Kept cheap: that
process is the module's only JVM besides the session's, its day has no login index (nothing
to join before the write), the live version it must not touch is written without Spark, and
the lock TTL is 4 s (``IDGRAPH_REDIS_PUBLISH_LOCK_TTL_S``), so waiting for expiry is short.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis
from redis_test_helpers import API_KEY, DAY, graph_rows, live_http, write_day, write_live

from idgraph.core import keyspace as ks
from idgraph.core import versions
from idgraph.core.embedded import graph_server_config, start_server
from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings, load_settings
from idgraph.core.stage import StageFailed
from lookup_service.main import create_app
from spark_jobs.graph.drain import run_drain
from spark_jobs.graph.publish import run_publish

pytestmark = [pytest.mark.spark, pytest.mark.redis]
H = {"X-API-Key": API_KEY}
LOCK_TTL_S = 4.0
BIG = 12_000  # cookies of the day that is killed mid-write
DAY2 = DAY + dt.timedelta(days=1)


@pytest.fixture()
def server() -> Iterator[Any]:
    srv = start_server(config=graph_server_config())
    yield srv
    srv.terminate()


def _redis_env(port: int) -> dict[str, str]:
    """The loader settings of both the test and its subprocesses (``IDGRAPH_REDIS_*``)."""
    return {
        "URL": f"redis://127.0.0.1:{port}",
        "PUBLISH_LOCK_TTL_S": str(LOCK_TTL_S),
        "BUCKET_FILL": "50",
        "LOAD_PARTITIONS": "2",
        # HSET with tiny pipelines: a write that lasts seconds, so the kill lands inside it.
        "WRITE_MODE": "hset",
        "LOAD_BATCH_FIELDS": "1",
        "VERSION_POLL_MS": "100",
        "SOCKET_TIMEOUT_MS": "1000",
        "CONNECT_TIMEOUT_MS": "1000",
        "REQUEST_TIMEOUT_MS": "3000",
    }


def _settings(lake: Path, port: int) -> AppSettings:
    redis_cfg: dict[str, Any] = {k.lower(): v for k, v in _redis_env(port).items()}
    redis_cfg["load_batch_fields"] = 20_000  # the test's own publishes: fast
    return load_settings(lake={"root": str(lake)}, redis=redis_cfg, service={"api_keys": API_KEY})


def _cli_publish(lake: Path, port: int, day: dt.date, *extra: str) -> subprocess.Popen[bytes]:
    env = os.environ | {f"IDGRAPH_REDIS_{k}": v for k, v in _redis_env(port).items()}
    env |= {
        "IDGRAPH_SPARK_MASTER": "local[2]",
        "IDGRAPH_SPARK_DRIVER_MEMORY": "1g",
        "IDGRAPH_SPARK_SHUFFLE_PARTITIONS": "2",
        # A short-lived driver: the C1 compiler and one GC thread start it faster on 2 cores.
        "IDGRAPH_SPARK_EXTRA_CONF": json.dumps(
            {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
        ),
        "COLUMNS": "400",  # no wrapped lines in the error or the summary
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from idgraph.cli import main; main()", "publish",
         "--lake", str(lake), "--date", day.isoformat(), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip


def _loading(client: Any) -> list[ks.GraphVersion]:
    return [v for v in versions.registered_versions(client) if v.status == "loading"]


def test_publish_killed_mid_write_frees_the_lock_and_is_cleaned_up(
    spark: Any, tmp_path: Path, server: Any
) -> None:
    lake = Lake(str(tmp_path))
    settings = _settings(tmp_path, server.port)
    write_day(spark, lake, DAY2, graph_rows(BIG, tag="b"), features=False)
    client = redis.Redis(port=server.port)
    first = write_live(client, graph_rows(60, tag="a"), name="20240104.1").name

    answers: list[tuple[int, str]] = []
    stop = threading.Event()
    with live_http(create_app(settings)) as base:

        def reader() -> None:
            with httpx.Client(base_url=base, headers=H, timeout=5) as http:
                while not stop.is_set():
                    r = http.get("/v1/identity/site-1/ck-00001")
                    version = r.json().get("graph_version", "") if r.status_code == 200 else ""
                    answers.append((r.status_code, version))
                    time.sleep(0.02)

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            proc = _cli_publish(tmp_path, server.port, DAY2)
            deadline = time.monotonic() + 180
            killed: ks.GraphVersion | None = None
            while killed is None:  # kill as soon as the first buckets of the new version land
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the publish never started writing"
                for version in _loading(client):
                    if client.exists(*version.keys()):
                        os.killpg(proc.pid, signal.SIGKILL)
                        killed = version
                        break
                else:
                    time.sleep(0.002)
            proc.wait(timeout=30)
            killed_at = time.monotonic()
            written = versions.count_fields(client, killed)
            # Killed before its switch: written, possibly whole (the workers outlive the
            # driver for a moment), but never live.
            assert 0 < written <= BIG, written
            assert [v.name for v in _loading(client)] == [killed.name]
            # (Spark's Python workers run in a process group of their own and may go on
            # writing for a moment, like an EMR executor of a dead driver: the take-over
            # must remove their late keys too.)

            # The dead publisher's lock names it; a publish now is refused in one line.
            holder = versions.lock_holder(client)
            assert holder is not None and holder.owner.endswith(f":{proc.pid}")
            assert holder.day == DAY2.isoformat()
            assert 0 < holder.ttl_ms <= LOCK_TTL_S * 1000
            with pytest.raises(
                versions.LockHeld, match=rf"holds the publish lock: \S+:{proc.pid} "
            ):
                versions.PublishLease(
                    versions.RedisTarget(settings.redis.url or ""), ttl_s=LOCK_TTL_S, day="x"
                ).acquire()

            # Within one TTL of the kill the lock is gone by itself.
            while client.exists(ks.LOCK_KEY):
                assert time.monotonic() - killed_at < LOCK_TTL_S + 1, "the lock did not expire"
                time.sleep(0.05)
            live, _, _ = versions.read_live(client)
            assert live is not None and live.name == first  # never touched

            # The next publish takes over and says what it cleaned.
            second = run_publish(spark, settings, DAY2).summary
        finally:
            stop.set()
            thread.join()
    assert second["abandoned_removed"] == killed.name
    assert second["cookies"] == BIG
    assert not client.exists(*killed.keys())
    assert killed.name not in {v.name for v in versions.registered_versions(client)}
    assert client.get(ks.LOCK_KEY) is None
    # Readers were answered by a live version all along: the old one, then the new one.
    assert answers and {code for code, _ in answers} == {200}, answers[:5]
    assert {v for _, v in answers} <= {first, second["version"]}
    assert answers[0][1] == first


def test_held_lock_is_one_line_and_break_lock_takes_over(
    spark: Any, tmp_path: Path, server: Any
) -> None:
    lake = Lake(str(tmp_path))
    settings = _settings(tmp_path, server.port)
    target = versions.RedisTarget(f"redis://127.0.0.1:{server.port}")
    lease = versions.PublishLease(target, ttl_s=LOCK_TTL_S, day="2024-01-04")
    lease.acquire()  # a live publisher: its heartbeat keeps the lock past its TTL
    taken = time.monotonic()
    try:
        write_day(spark, lake, DAY, graph_rows(60, tag="a"), features=False)
        time.sleep(max(0.0, taken + LOCK_TTL_S + 1 - time.monotonic()))  # outlive one TTL
        held = _cli_publish(tmp_path, server.port, DAY)
        out, err = held.communicate(timeout=120)
        assert held.returncode == 1, (out, err)
        lines = err.decode().strip().splitlines()
        assert len(lines) == 1, lines  # refused before Spark starts: no JVM chatter either
        assert lines[0].startswith("[publish] another publish holds the publish lock: ")
        holder = rf":{os.getpid()} \(publish of 2024-01-04\) for (\d+)s, expires in "
        age = re.search(holder, lines[0])
        assert age and int(age.group(1)) >= LOCK_TTL_S + 1, lines[0]  # renewed past its TTL
        assert "--break-lock" in lines[0]
        assert lease.lost is None
        # The drain that opens a daily run rewrites the same lake partitions: refused too.
        with pytest.raises(StageFailed, match=r"^\[drain\] another publish holds the publish"):
            run_drain(spark, settings, DAY)

        summary = run_publish(spark, settings, DAY, break_lock=True).summary
        assert f":{os.getpid()} (publish of 2024-01-04) for " in summary["lock_broken"]
        deadline = time.monotonic() + LOCK_TTL_S
        while lease.lost is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lease.lost is not None  # the broken holder knows it no longer holds the lock
        with pytest.raises(versions.LockLost):
            lease.check()
    finally:
        lease.release()
    client = redis.Redis(port=server.port)
    live, _, _ = versions.read_live(client)
    assert live is not None and live.name == summary["version"] and live.cookies == 60
    assert client.get(ks.LOCK_KEY) is None
    with pytest.raises(versions.LockLost):  # a broken holder can no longer switch the live pointer
        versions.switch_live(client, expected=None, live=live, previous=None, lock=lease)
