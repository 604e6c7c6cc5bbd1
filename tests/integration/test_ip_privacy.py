"""The IP hash key stays out of every plan and log, and the lake cannot be turned back into
IP addresses without it.

A tiny simulated day is run through the etl stage with a known key. Its query plans (every
``explain`` mode) and the Spark event log of a real ``spark-submit``-style run of the entry
point (a child process with ``spark.eventLog.enabled``) are searched for the key and for its
HMAC pads, the form a built-in ``sha2(concat(unhex(pad), ...))`` would carry. Then an attacker
holding the stored columns and even the exact /24 of each IPv4 visit tries its 256 addresses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import io
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from idgraph.core.lake import Lake
from idgraph.core.settings import load_settings
from idgraph.core.settings.etl import DEV_IP_HASH_KEY
from idgraph.simulator import simulate
from spark_jobs.common.io import read_partition
from spark_jobs.etl.job import RAW_FILES, classify_lines, run_etl
from spark_jobs.etl.normalize import NETWORK_DOMAIN, hmac_pads

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DAY = dt.date(2026, 3, 1)
KEY = "known-test-key-4f1c9a7e2b6d8035c1e9a4f7b2d6e80"
EXPLAIN_MODES = ("simple", "extended", "codegen", "cost", "formatted")
ROOT = Path(__file__).resolve().parents[2]


def _secrets(key: str) -> dict[str, str]:
    """Every form of the key that must not be found: as text, as hex, and its two pads."""
    inner, outer = hmac_pads(key.encode())
    return {"key": key, "key hex": key.encode().hex(), "ipad": inner, "opad": outer}


def _found(text: str, key: str) -> list[str]:
    lowered = text.lower()
    return [name for name, value in _secrets(key).items() if value.lower() in lowered]


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("privacy-lake")
    simulate(str(root), DAY, 1, 25, 5)
    settings = load_settings(lake={"root": str(root)}, etl={"ip_hash_key": KEY})
    run_etl(spark, settings, DAY)
    return root, settings


def test_no_explain_mode_shows_the_key_or_its_pads(spark, lake) -> None:  # type: ignore[no-untyped-def]
    root, settings = lake
    lines = spark.read.option("pathGlobFilter", RAW_FILES).text(str(root / f"raw/pixel/dt={DAY}"))
    classified = classify_lines(lines, day=DAY, settings=settings, previous_event_ids=None)
    for mode in EXPLAIN_MODES:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            classified.explain(mode=mode)
        plan = out.getvalue()
        assert "keyed_ip_hashes" in plan, mode  # the plan is the one that hashes
        assert _found(plan, KEY) == [], mode
    # The search itself finds pads where a plan does carry them (the old built-in HMAC).
    inner, _ = hmac_pads(KEY.encode())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        lines.select(F.sha2(F.concat(F.unhex(F.lit(inner)), F.col("value")), 256)).explain(True)
    assert "ipad" in _found(out.getvalue(), KEY)


def test_the_event_log_and_driver_output_of_a_real_run_hold_no_key(lake, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root, _ = lake
    events = tmp_path / "spark-events"
    events.mkdir()
    conf = {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": events.as_uri(),
        "spark.eventLog.compress": "false",  # searchable as text (Spark 4 compresses by default)
    }
    env = {
        **os.environ,
        "IDGRAPH_ETL_IP_HASH_KEY": KEY,
        "IDGRAPH_SPARK_MASTER": "local[1]",
        "IDGRAPH_SPARK_SHUFFLE_PARTITIONS": "2",
        "IDGRAPH_SPARK_DRIVER_MEMORY": "1g",
        "IDGRAPH_SPARK_EXTRA_CONF": json.dumps(conf),
    }  # PYSPARK_PYTHON and the rest: tests/conftest.py put process_env into os.environ
    done = subprocess.run(
        [sys.executable, "spark_jobs/entrypoint.py", "--stage", "etl", "--date", str(DAY),
         "--lake", str(root)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    # One application; Spark 4 writes it as a directory of rolled files.
    text = "".join(p.read_text() for p in sorted(events.rglob("*")) if p.is_file())
    assert "SparkListenerSQLExecutionStart" in text and "keyed_ip_hashes" in text
    assert _found(text, KEY) == []
    assert _found(done.stdout + done.stderr, KEY) == []


def _raw_ips(spark, root: Path):  # type: ignore[no-untyped-def]
    raw = spark.read.json(str(root / f"raw/pixel/dt={DAY}/*.json.gz"))
    return {r.event_id: r.ip for r in raw.select("event_id", "ip").collect()}


def test_trying_the_256_addresses_of_a_slash_24_recovers_nothing(spark, lake) -> None:  # type: ignore[no-untyped-def]
    root, _ = lake
    visits = read_partition(spark, Lake(str(root)), "visits", DAY)
    rows = visits.where("ip_version = 4").select("event_id", "ip_prefix", "ip_hash").collect()
    assert len(rows) >= 16
    raw = _raw_ips(spark, root)

    def keyed(key: str):  # type: ignore[no-untyped-def]
        return lambda text: hmac.new(key.encode(), text.encode(), "sha256").hexdigest()

    guesses = {
        "sha256": lambda text: hashlib.sha256(text.encode()).hexdigest(),
        "dev key": keyed(DEV_IP_HASH_KEY),
        "real key": keyed(KEY),
    }
    recovered = dict.fromkeys(guesses, 0)
    for row in rows:
        address = raw[row.event_id].strip().lower().removeprefix("::ffff:")
        network = ipaddress.ip_network(f"{address}/24", strict=False)
        # The stored prefix is no network text, nor a hash of it anyone could make without
        # the key; it is the keyed hash (checked, so this test knows what it is looking at).
        assert str(network.network_address) not in row.ip_prefix
        text = f"{NETWORK_DOMAIN}{network}"
        for name in ("sha256", "dev key"):
            assert row.ip_prefix != f"v4:{guesses[name](text)}", name
        assert row.ip_prefix == f"v4:{guesses['real key'](text)}"
        # Given the exact /24 for free, try its 256 addresses with every guess of the hash.
        for name, guess in guesses.items():
            if any(guess(str(address)) == row.ip_hash for address in network):
                recovered[name] += 1
    assert recovered["sha256"] == recovered["dev key"] == 0
    # The trial itself works: with the key (only the job role reads it) every IP comes back.
    assert recovered["real key"] == len(rows)
