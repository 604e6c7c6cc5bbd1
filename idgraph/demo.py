"""``idgraph demo``: the whole story on a fresh machine, on embedded defaults.

1. simulate a small world (people, households, devices, cookies) for a few weeks;
2. backfill the daily stages over the history (no model yet: deterministic links only);
3. train the first model, which becomes champion if it passes the minimum quality;
4. run the last day for real: scoring with the champion, graph, gate, publish to Redis;
5. evaluate the day's graph against the simulator's ground truth;
6. start the lookup service and ask it about a few cookies over real HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from idgraph.settings import AppSettings

log = logging.getLogger(__name__)

DEMO_API_KEY = "demo-key"


@dataclass(frozen=True)
class DemoPlan:
    """Sizes of the demo world."""

    start: dt.date = dt.date(2026, 10, 1)
    days: int = 7
    people: int = 2_000
    seed: int = 7
    bad_rate: float = 0.002

    @property
    def last_day(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("X-API-Key", DEMO_API_KEY)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def start_service(lake: str, port: int) -> subprocess.Popen[bytes]:
    """Start ``idgraph serve`` on the lake's embedded Valkey and wait until it is ready."""
    env = os.environ | {"IDGRAPH_API_KEYS": DEMO_API_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "idgraph.cli", "serve", "--lake", lake, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lookup service exited with {proc.returncode}")
        try:
            status, _ = _http("GET", f"http://127.0.0.1:{port}/readyz")
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("lookup service did not become ready within 60 s")


def sample_cookies(lake: str, day: dt.date, *, people: int = 3) -> list[dict[str, str]]:
    """Cookies of a few people with several cookies in the day's graph (from the truth)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from spark_jobs.common.paths import Lake

    paths = Lake(lake)
    graph = ds.dataset(paths.partition("identity_graph", day), format="parquet").to_table(
        columns=["site_id", "cookie_id", "unified_id", "component_size"]
    )
    truth = ds.dataset(paths.path("truth", "cookies"), format="parquet").to_table(
        columns=["site_id", "cookie_id", "person_id"]
    )
    joined = graph.join(truth, ["site_id", "cookie_id"])
    multi = joined.filter(pc.greater(joined["component_size"], 2)).sort_by("person_id")
    chosen: list[dict[str, str]] = []
    persons: list[Any] = []
    for row in multi.to_pylist():
        if row["person_id"] not in persons:
            if len(persons) == people:
                break
            persons.append(row["person_id"])
        if row["person_id"] in persons:
            chosen.append(
                {
                    "site_id": row["site_id"],
                    "cookie_id": row["cookie_id"],
                    "person_id": str(row["person_id"]),
                }
            )
    return chosen[:12]


def lookups(console: Console, lake: str, day: dt.date, port: int) -> dict[str, Any]:
    """Ask the live service about sampled cookies; show that cookies of one person share an ID."""
    from rich.table import Table

    base = f"http://127.0.0.1:{port}"
    cookies = sample_cookies(lake, day)
    table = Table(title="lookups against the live service", title_justify="left")
    for column in ("true person", "site_id", "cookie_id", "HTTP", "unified_id", "confidence"):
        table.add_column(column)
    latencies = []
    for cookie in cookies:
        started = time.perf_counter()
        status, body = _http("GET", f"{base}/v1/identity/{cookie['site_id']}/{cookie['cookie_id']}")
        latencies.append((time.perf_counter() - started) * 1000)
        table.add_row(
            cookie["person_id"],
            cookie["site_id"],
            cookie["cookie_id"][:18],
            str(status),
            str((body or {}).get("unified_id", "-")),
            str((body or {}).get("confidence", "-")),
        )
    console.print(table)
    status_unknown, _ = _http("GET", f"{base}/v1/identity/unknown.example/no-such-cookie")
    batch = [{"site_id": c["site_id"], "cookie_id": c["cookie_id"]} for c in cookies]
    batch.append({"site_id": "unknown.example", "cookie_id": "no-such-cookie"})
    status_batch, body_batch = _http("POST", f"{base}/v1/identity/batch", {"cookies": batch})
    status_eids, body_eids = _http(
        "GET", f"{base}/v1/identity/{cookies[0]['site_id']}/{cookies[0]['cookie_id']}?format=eids"
    )
    console.print(f"unknown cookie -> HTTP {status_unknown} (never a guessed id)")
    console.print(f"batch of {len(batch)} -> HTTP {status_batch}")
    console.print(f"OpenRTB eids -> HTTP {status_eids}: {json.dumps(body_eids)}")
    latencies.sort()
    return {
        "lookups": len(cookies),
        "unknown_status": status_unknown,
        "batch_status": status_batch,
        "batch_results": len((body_batch or {}).get("results", [])),
        "median_lookup_ms_incl_python_client": round(latencies[len(latencies) // 2], 2)
        if latencies
        else None,
    }


def settings_for(lake: str) -> AppSettings:
    """Demo settings: the lake given, everything else from defaults/environment."""
    from idgraph.settings import load_settings

    return load_settings(lake={"root": lake})
