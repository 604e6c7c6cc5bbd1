"""Injected bad records: one kind per row of docs/bad-input.md's table, counted exactly.

Each injected record has exactly one defect, so the ETL's reconciliation can be checked
against these counts kind by kind. Quarantine, duplicate and consent kinds add lines; the
warning kinds (raw e-mail login, long user agent or URL, non-UTF-8 bytes) alter existing
events, which the ETL must keep.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import orjson

from idgraph.simulator.encode import event_ids
from idgraph.simulator.world import Mailboxes

REQUIRED = ("event_id", "ts", "site_id", "cookie_id", "ip", "user_agent")
QUARANTINE_KINDS = ("malformed_json", *(f"missing_{f}" for f in REQUIRED), "bad_ts", "bad_ip")
DUPLICATE_KINDS = ("duplicate_same_day", "duplicate_prev_day")
WARNING_KINDS = ("raw_email_login", "long_user_agent", "long_url", "non_utf8")
KINDS = (*QUARANTINE_KINDS, *DUPLICATE_KINDS, "no_consent", *WARNING_KINDS)

_BAD_IPS = (
    "999.12.3.4",
    "256.1.1.1",
    "1.2.3",
    "not-an-ip",
    "2001:db8::zz",
    "12.34.56.78.90",
    "localhost",
    "1.2.3.4.",
)
_BAD_TS = (
    "not-a-date",
    "2026-13-45T25:61:00Z",
    "0000-00-00T00:00:00Z",
    "T12:00:00Z",
    "yesterday at noon",
    "1700000000000abc",
)
_GARBAGE = (
    "<html><head><title>502 Bad Gateway</title></head></html>",
    "null",
    '"event"',
    "\x01\x02binary",
    "}{",
)
# Written into a string value; replaced by a lone 0xE9 byte (Latin-1 "é", invalid UTF-8) once
# the part is encoded. A marker keeps every line pure ASCII/UTF-8 text until then, which keeps
# joining and encoding on their fast paths. orjson escapes control characters, so \x1a can
# only appear where we put it.
NON_UTF8_MARK = "\x1anon-utf8\x1a"
NON_UTF8_BYTES = b"\xe9"


@dataclass
class Injection:
    """What was injected into one day's file."""

    extra_lines: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))


def plan_counts(
    rate: float, good: int, prev_available: bool, rng: np.random.Generator
) -> dict[str, int]:
    """How many records of each kind: ``rate`` x good lines in total, at least one of each.

    Args:
        rate: share of bad records relative to the good lines.
        good: number of good lines of the day.
        prev_available: whether yesterday's lines exist (needed for ``duplicate_prev_day``).
        rng: the injection generator.
    """
    counts = dict.fromkeys(KINDS, 0)
    if rate <= 0 or good == 0:
        return counts
    kinds = [k for k in KINDS if prev_available or k != "duplicate_prev_day"]
    total = max(len(kinds), round(rate * good))
    spread = rng.multinomial(total - len(kinds), np.full(len(kinds), 1 / len(kinds)))
    for kind, extra in zip(kinds, spread.tolist(), strict=True):
        counts[kind] = 1 + extra
    return counts


def _raw_email(address: str, rng: np.random.Generator) -> str:
    local, domain = address.split("@")
    styles = (
        f" {local.capitalize()}@{domain.capitalize()} ",
        f"{address.upper()}",
        f"  {address}",
        f"{local.title()}@{domain}\t",
    )
    return styles[int(rng.integers(0, len(styles)))]


def _bad_ts(day: dt.date, rng: np.random.Generator) -> str | int:
    start_ms = (day - dt.date(1970, 1, 1)).days * 86_400_000
    variant = int(rng.integers(0, 3))
    if variant == 0:
        return _BAD_TS[int(rng.integers(0, len(_BAD_TS)))]
    if variant == 1:  # well over 1 hour after the end of the day
        ms = start_ms + 86_400_000 + int(rng.integers(75 * 60_000, 40 * 3_600_000))
    else:  # before the lateness window (the start of the previous day)
        ms = start_ms - 86_400_000 - int(rng.integers(10 * 60_000, 30 * 86_400_000))
    if rng.random() < 0.5:
        return ms
    return np.datetime_as_string(np.datetime64(ms, "ms"), unit="ms") + "Z"


def _malformed(line: str, rng: np.random.Generator) -> str:
    variant = int(rng.integers(0, 4))
    if variant == 0:  # truncated: any strict prefix of an object is invalid JSON
        return line[: int(rng.integers(10, len(line) - 1))]
    if variant == 1:
        return f"[{line}]"
    if variant == 2:
        return str(int(rng.integers(0, 10**12)))
    return _GARBAGE[int(rng.integers(0, len(_GARBAGE)))]


def _dumps(obj: dict) -> str:
    return orjson.dumps(obj).decode()


def inject(
    lines: list[str],
    candidates: np.ndarray,
    person: np.ndarray,
    logged: np.ndarray,
    prev_pool: list[str],
    counts: dict[str, int],
    day: dt.date,
    mail: Mailboxes,
    rng: np.random.Generator,
) -> tuple[Injection, np.ndarray]:
    """Alter ``lines`` in place (warning kinds) and build the extra bad lines.

    Args:
        lines: the day's good lines.
        candidates: indices of lines safe to copy or alter (consent not false, not a natural
            duplicate, not a late arrival).
        person: person id of each line.
        logged: whether each line carries a login hash.
        prev_pool: yesterday's clean lines that may be re-delivered today.
        counts: from ``plan_counts``.
        day: the day of the file.
        mail: e-mail addresses, for raw e-mail logins.
        rng: the injection generator.

    Returns:
        The injection, and the indices of lines that were altered or copied (not to be reused).
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    if len(candidates) == 0:  # nothing safe to copy or alter (a tiny or all-refusing day)
        return Injection(), np.zeros(0, dtype=np.int64)
    out = Injection(counts=dict(counts))
    picks = rng.choice(candidates, sum(counts[k] for k in QUARANTINE_KINDS))
    quarantine_sources = [lines[i] for i in picks.tolist()]
    pool = rng.permutation(candidates)
    with_mail = mail.count[person[pool]] > 0
    # Raw e-mail logins replace a real login where possible, so the hash is consistent.
    order = np.argsort(~(with_mail & logged[pool]), kind="stable")
    emailable = pool[order][: int(with_mail.sum())]
    n_raw = min(counts["raw_email_login"], len(emailable))
    out.counts["raw_email_login"] = n_raw
    used = set(emailable[:n_raw].tolist())
    for i in emailable[:n_raw].tolist():
        event = orjson.loads(lines[i])
        hashes = mail.hashes_of(int(person[i]))
        which = hashes.index(event["login_hash"]) if event.get("login_hash") in hashes else 0
        event["login_hash"] = _raw_email(mail.address(int(person[i]), which), rng)
        lines[i] = _dumps(event)
    rest = iter([i for i in pool.tolist() if i not in used])
    taken: list[int] = list(used)

    def take(kind: str) -> list[int]:
        chosen = [i for _, i in zip(range(counts[kind]), rest, strict=False)]
        out.counts[kind] = len(chosen)  # tiny days may have fewer candidates than planned
        taken.extend(chosen)
        return chosen

    for i in take("long_user_agent"):
        event = orjson.loads(lines[i])
        extra = int(rng.integers(2100, 4000)) - len(event["user_agent"])
        tokens = " ".join(f"Ext{j}/{j % 7}.{j % 13}" for j in range(extra // 10 + 1))
        event["user_agent"] = f"{event['user_agent']} {tokens}"
        lines[i] = _dumps(event)
    for i in take("long_url"):
        event = orjson.loads(lines[i])
        blob = rng.bytes(int(rng.integers(1600, 3600))).hex()
        event["url"] = f"{event['url']}{'&' if '?' in event['url'] else '?'}utm_content={blob}"
        lines[i] = _dumps(event)
    for i in take("non_utf8"):
        event = orjson.loads(lines[i])
        event["url"] = f"{event['url']}{'&' if '?' in event['url'] else '?'}ref=caf@@@"
        lines[i] = _dumps(event).replace("caf@@@", f"caf{NON_UTF8_MARK}")

    out.extra_lines.extend(lines[i] for i in take("duplicate_same_day"))
    refused = take("no_consent")
    ids = event_ids(rng, len(refused) + sum(counts[k] for k in QUARANTINE_KINDS))
    for i, eid in zip(refused, ids, strict=False):
        event = orjson.loads(lines[i]) | {"event_id": eid, "consent": False}
        out.extra_lines.append(_dumps(event))
    ids = ids[len(refused) :]
    if prev_pool:
        picks = rng.integers(0, len(prev_pool), counts["duplicate_prev_day"])
        out.extra_lines.extend(prev_pool[j] for j in picks.tolist())

    # Quarantine kinds: a copy of a good event (as it was before any alteration, so that
    # it carries no warning) with a fresh id and exactly one defect.
    ids_iter, src_iter = iter(ids), iter(quarantine_sources)
    for kind in QUARANTINE_KINDS:
        for _ in range(counts[kind]):
            event = orjson.loads(next(src_iter))
            event["event_id"] = next(ids_iter)
            if kind == "malformed_json":
                out.extra_lines.append(_malformed(_dumps(event), rng))
                continue
            if kind.startswith("missing_"):
                name = kind.removeprefix("missing_")
                if rng.random() < 0.5:
                    del event[name]
                else:
                    event[name] = ""
            elif kind == "bad_ts":
                event["ts"] = _bad_ts(day, rng)
            else:
                event["ip"] = _BAD_IPS[int(rng.integers(0, len(_BAD_IPS)))]
            out.extra_lines.append(_dumps(event))
    return out, np.array(sorted(taken), dtype=np.int64)
