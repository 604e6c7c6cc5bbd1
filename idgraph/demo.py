"""``idgraph demo``: the whole story on a fresh machine, on embedded defaults.

1. simulate a small world (people, households, devices, cookies) for a few weeks;
2. backfill the daily stages over the history (no model yet: deterministic links only);
3. train the first model, which becomes champion if it passes the minimum quality;
4. run the last day for real: scoring with the champion, graph, gate, publish to Redis;
5. evaluate the day's graph against the simulator's ground truth;
6. start the lookup service and ask it about a few cookies over real HTTP;
7. report a wrong link over HTTP (``POST /v1/feedback``), run the next day and show the two
   cookies apart (``feedback_step``).
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

from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings, load_settings
from idgraph.pipeline import DAILY_STAGES, DRAIN_STAGE, PUBLISH_STAGE, build_session, run_day

log = logging.getLogger(__name__)

DEMO_API_KEY = "demo-key"
DEMO_FEEDBACK_KEY = "demo-feedback-key"


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

    @property
    def simulated_days(self) -> int:
        """Days simulated: one more than processed, the day the feedback step runs."""
        return self.days + 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http(method: str, url: str, body: Any = None, key: str = DEMO_API_KEY) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("X-API-Key", key)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def start_service(lake: str, port: int) -> subprocess.Popen[bytes]:
    """Start ``idgraph serve`` on the lake's embedded Valkey and wait until it is ready."""
    env = os.environ | {
        "IDGRAPH_API_KEYS": DEMO_API_KEY,
        "IDGRAPH_FEEDBACK_API_KEYS": DEMO_FEEDBACK_KEY,
    }
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


def wrong_link(lake: str, day: dt.date) -> tuple[dict[str, str], dict[str, str], bool]:
    """Two cookies sharing a unified ID in the day's graph: a pair the truth calls two people
    when there is one (a real mistake to report), else any such pair; and which it is."""
    import pyarrow.dataset as ds

    paths = Lake(lake)
    graph = ds.dataset(paths.partition("identity_graph", day), format="parquet").to_table(
        columns=["site_id", "cookie_id", "unified_id", "component_size"]
    )
    truth = ds.dataset(paths.path("truth", "cookies"), format="parquet").to_table(
        columns=["site_id", "cookie_id", "person_id"]
    )
    rows = graph.join(truth, ["site_id", "cookie_id"], join_type="left outer").to_pylist()
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["component_size"] > 1:
            by_id.setdefault(row["unified_id"], []).append(row)
    fallback = None
    for members in sorted(by_id.values(), key=lambda m: (len(m), m[0]["unified_id"])):
        members.sort(key=lambda r: (r["site_id"], r["cookie_id"]))
        fallback = fallback or (members[0], members[1])
        for other in members[1:]:
            if other["person_id"] != members[0]["person_id"]:
                return _ref(members[0]), _ref(other), True
    if fallback is None:
        raise RuntimeError(f"no two cookies share a unified ID in the graph of {day}")
    return _ref(fallback[0]), _ref(fallback[1]), False


def _ref(row: dict[str, Any]) -> dict[str, str]:
    return {"site_id": row["site_id"], "cookie_id": row["cookie_id"]}


def feedback_step(console: Console, lake: str, day: dt.date, port: int) -> dict[str, Any]:
    """Report two cookies of one unified ID as different people, run the next day, show them
    apart: over real HTTP against the running service, like a publisher would.

    Publish drains recorded verdicts into the lake; the next day's graph honours them. The
    verdict is sent after day ``day`` was published, so the demo drains it the way that
    publish does (``drain_feedback``) before it runs day ``day`` + 1 in full.
    """
    base = f"http://127.0.0.1:{port}"
    a, b, mistake = wrong_link(lake, day)

    def uid(cookie: dict[str, str]) -> str:
        status, body = _http("GET", f"{base}/v1/identity/{cookie['site_id']}/{cookie['cookie_id']}")
        return str((body or {}).get("unified_id")) if status == 200 else f"HTTP {status}"

    before = (uid(a), uid(b))
    console.print(
        f"{a['site_id']}/{a['cookie_id']} and {b['site_id']}/{b['cookie_id']} share "
        f"{before[0]}" + (" although the truth says two people" if mistake else "")
    )
    verdict = {"a": a, "b": b, "verdict": "different_people", "reason": "demo: reported wrong link"}
    refused, _ = _http("POST", f"{base}/v1/feedback", verdict)  # a lookup key: wrong scope
    status, body = _http("POST", f"{base}/v1/feedback", verdict, key=DEMO_FEEDBACK_KEY)
    console.print(f"POST /v1/feedback with a lookup key -> HTTP {refused}; with a feedback key "
                  f"-> HTTP {status} {json.dumps(body)}")  # fmt: skip
    if status != 202:
        raise RuntimeError(f"feedback was not accepted: HTTP {status}")

    settings = settings_for(lake)
    spark = build_session(settings)
    try:
        next_day = day + dt.timedelta(days=1)
        # The day's run drains the verdict first, so the graph of the next day honours it.
        stages = (DRAIN_STAGE, *DAILY_STAGES, PUBLISH_STAGE)
        report = run_day(spark, settings, next_day, stages=stages)
        if report.failed == "publish" and "gate" in (report.error or ""):
            console.print(f"[bold yellow]demo:[/] the gate refused {next_day} ({report.error}); "
                          "publishing with --force")  # fmt: skip
            report = run_day(spark, settings, next_day, stages=(PUBLISH_STAGE,),
                             stage_kwargs={"publish": {"force": True}})  # fmt: skip
        if not report.ok:
            raise RuntimeError(f"{next_day} failed at {report.failed}: {report.error}")
        drained = next(r.summary for r in report.results if r.stage == "drain")
        console.print(f"{next_day}: the daily run drained {drained} before its graph")
    finally:
        spark.stop()
    deadline = time.monotonic() + 10  # the service follows the live pointer within ~1 s
    after = (uid(a), uid(b))
    while after[0] == after[1] and time.monotonic() < deadline:
        time.sleep(0.5)
        after = (uid(a), uid(b))
    console.print(f"after {next_day}: {after[0]} and {after[1]}")
    return {
        "feedback_http": status,
        "lookup_key_on_feedback_http": refused,
        "pair_was_a_true_mistake": mistake,
        "shared_id_before": before[0] == before[1],
        "apart_after_next_day": after[0] != after[1],
    }


def settings_for(lake: str) -> AppSettings:
    """Demo settings: the lake given, everything else from defaults/environment."""
    return load_settings(lake={"root": lake})
