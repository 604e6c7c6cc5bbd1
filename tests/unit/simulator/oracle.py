"""An independent, line-by-line reading of docs/bad-input.md's table, for checking counts.

Deliberately written without the simulator's code: it classifies raw lines the way the ETL
must, so a disagreement with ``truth/injected/dt=D/counts.json`` is a real bug on one side.
"""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
import re
from collections import Counter
from pathlib import Path

REQUIRED = ("event_id", "ts", "site_id", "cookie_id", "ip", "user_agent")
HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_LEN = 2048


def read_lines(lake: Path, day: dt.date) -> list[str]:
    """Every raw line of a day, decoded with replacement like a text reader does."""
    lines: list[str] = []
    for part in sorted((lake / "raw" / "pixel" / f"dt={day.isoformat()}").glob("*.json.gz")):
        text = gzip.decompress(part.read_bytes()).decode("utf-8", errors="replace")
        if not text:
            continue
        assert text.endswith("\n")
        lines.extend(text[:-1].split("\n"))
    return lines


def ts_ms(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and "T" in value:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        return round(parsed.timestamp() * 1000)
    return None


def classify(lines: list[str], day: dt.date, previous_ids: set[str]) -> tuple[Counter, list[dict]]:
    """Reason counts of a day's lines and the events that become visits.

    Args:
        lines: raw lines of the day.
        day: the folder's day.
        previous_ids: event ids kept as visits on the previous day.
    """
    start = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)
    low, high = start - 86_400_000, start + 86_400_000 + 3_600_000
    reasons: Counter = Counter()
    seen: set[str] = set()
    kept: list[dict] = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            reasons["malformed_json"] += 1
            continue
        missing = [f for f in REQUIRED if event.get(f) in (None, "")]
        if missing:
            reasons[f"missing_{missing[0]}"] += 1
            continue
        ts = ts_ms(event["ts"])
        if ts is None or not low <= ts <= high:
            reasons["bad_ts"] += 1
            continue
        try:
            ipaddress.ip_address(event["ip"])
        except ValueError:
            reasons["bad_ip"] += 1
            continue
        eid = event["event_id"]
        if eid in seen:
            reasons["duplicate_same_day"] += 1
            continue
        if eid in previous_ids:
            reasons["duplicate_prev_day"] += 1
            continue
        seen.add(eid)
        if event.get("consent") is False:
            reasons["no_consent"] += 1
            continue
        login = event.get("login_hash")
        if login is not None and not HEX64.fullmatch(login):
            reasons["raw_email_login"] += 1
        if len(event["user_agent"]) > MAX_LEN:
            reasons["long_user_agent"] += 1
        if len(event.get("url") or "") > MAX_LEN:
            reasons["long_url"] += 1
        if "\ufffd" in line:
            reasons["non_utf8"] += 1
        kept.append(event)
    return reasons, kept
