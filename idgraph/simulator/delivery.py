"""How a day's events reach the lake: late arrivals, re-deliveries, bad records, part files.

Collectors deliver at least once: a few events are written twice the same day, a few are
re-sent the next day, and a few phones sync yesterday's events late. All of this is part of
the natural traffic (independent of the bad-record rate) and counted in the truth just like
the injected records, so the ETL's reconciliation can be checked against exact figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from idgraph.simulator.badrecords import KINDS, QUARANTINE_KINDS, WARNING_KINDS, inject, plan_counts
from idgraph.simulator.traffic import CONSENT_FALSE, DayTraffic
from idgraph.simulator.world import Mailboxes

LATE_RATE = 0.003  # events synced the next day (belong to D-1, arrive in D's folder)
DUP_SAME_DAY_RATE = 0.002
DUP_NEXT_DAY_RATE = 0.0005
PREV_POOL_SIZE = 20_000  # yesterday's clean lines kept for injected re-deliveries
LINES_PER_PART = 200_000
MIN_PARTS = 3


@dataclass
class Carry:
    """What one day hands to the next."""

    late: list[str] = field(default_factory=list)
    redeliver: list[str] = field(default_factory=list)
    pool: list[str] = field(default_factory=list)


@dataclass
class DayFile:
    """A day's raw lines split into part files, and the counts that describe them."""

    parts: list[list[str]]
    counts: dict


def _pick(rng: np.random.Generator, indices: np.ndarray, rate: float) -> np.ndarray:
    return indices[rng.random(len(indices)) < rate]


def assemble(
    traffic: DayTraffic,
    lines: list[str],
    carry: Carry,
    day: dt.date,
    bad_rate: float,
    mail: Mailboxes,
    natural_rng: np.random.Generator,
    inject_rng: np.random.Generator,
) -> tuple[DayFile, Carry]:
    """Build the day's delivered lines and their exact accounting.

    Args:
        traffic: the day's events (``lines`` renders them, same order).
        lines: rendered events.
        carry: late events and re-deliveries from the previous day.
        day: the day of the folder.
        bad_rate: share of injected bad records (0 for none).
        mail: e-mail addresses (raw e-mail logins).
        natural_rng: generator for at-least-once delivery effects.
        inject_rng: generator for bad records (separate, so the rate does not move the rest).
    """
    n = len(lines)
    consent = traffic.s_consent[traffic.session]
    person = traffic.s_person[traffic.session]
    logged = np.array([x is not None for x in traffic.s_login])[traffic.session]
    keepable = np.flatnonzero(consent != CONSENT_FALSE)
    # Late syncs come from phones offline in the evening: weight by how late in the day.
    hour = (traffic.ts_ms % 86_400_000) // 3_600_000
    late = keepable[natural_rng.random(len(keepable)) < LATE_RATE * hour[keepable] / 11.5]
    rest = np.setdiff1d(keepable, late).astype(np.int64)
    dup_same = _pick(natural_rng, rest, DUP_SAME_DAY_RATE)
    rest = np.setdiff1d(rest, dup_same).astype(np.int64)
    dup_next = _pick(natural_rng, rest, DUP_NEXT_DAY_RATE)
    candidates = np.setdiff1d(rest, dup_next).astype(np.int64)

    counts = plan_counts(bad_rate, n - len(late), bool(carry.pool), inject_rng)
    injection, altered = inject(
        lines, candidates, person, logged, carry.pool, counts, day, mail, inject_rng
    )
    kept = np.ones(n, dtype=bool)
    kept[late] = False
    own = [lines[i] for i in np.flatnonzero(kept).tolist()]
    natural = {
        "late_from_prev_day": len(carry.late),
        "duplicate_same_day": len(dup_same),
        "duplicate_prev_day": len(carry.redeliver),
        "no_consent": int((consent[kept] == CONSENT_FALSE).sum()),
    }
    extra = [lines[i] for i in dup_same.tolist()] + carry.redeliver + injection.extra_lines
    # Good lines keep time order within a part; extras and late syncs land anywhere.
    delivered = own + carry.late + extra
    position = np.concatenate(
        [
            np.arange(len(own), dtype=np.float64),
            natural_rng.random(len(carry.late) + len(extra)) * len(own),
        ]
    )
    n_parts = max(MIN_PARTS, -(-len(delivered) // LINES_PER_PART))
    part = natural_rng.integers(0, n_parts, len(delivered))
    order = np.lexsort((position, part))
    bounds = np.searchsorted(part[order], np.arange(n_parts + 1))
    ordered = [delivered[i] for i in order.tolist()]
    parts = [ordered[bounds[k] : bounds[k + 1]] for k in range(n_parts)]

    pool_from = np.setdiff1d(candidates, altered).astype(np.int64)
    pool_pick = natural_rng.permutation(pool_from)[:PREV_POOL_SIZE]
    next_carry = Carry(
        late=[lines[i] for i in late.tolist()],
        redeliver=[lines[i] for i in dup_next.tolist()],
        pool=[lines[i] for i in np.sort(pool_pick).tolist()],
    )
    return DayFile(
        parts=parts,
        counts=_accounting(day, len(delivered), n - len(late), natural, injection.counts),
    ), next_carry


def _accounting(day: dt.date, lines: int, own: int, natural: dict, injected: dict) -> dict:
    """The counts file: per kind (natural + injected) and the reconciliation the ETL should get."""
    total = {k: injected.get(k, 0) + natural.get(k, 0) for k in KINDS}
    quarantined = sum(total[k] for k in QUARANTINE_KINDS)
    duplicates = total["duplicate_same_day"] + total["duplicate_prev_day"]
    return {
        "day": day.isoformat(),
        "lines": lines,
        "events_of_day": own,
        "counts": total,
        "injected": {k: injected.get(k, 0) for k in KINDS},
        "natural": natural,
        "expected_reconciliation": {
            "lines_read": lines,
            "visits_written": lines - quarantined - duplicates - total["no_consent"],
            "duplicates_dropped": duplicates,
            "no_consent_dropped": total["no_consent"],
            "quarantined": quarantined,
            **{f"warning_{k}": total[k] for k in WARNING_KINDS},
        },
    }


def merge_counts(total: dict | None, block: dict) -> dict:
    """Add one block's counts file into the day's (numbers added, nested dicts per key)."""
    if total is None:
        return block
    merged = dict(total)
    for key, value in block.items():
        if isinstance(value, dict):
            merged[key] = {k: total[key].get(k, 0) + v for k, v in value.items()}
        elif isinstance(value, int):
            merged[key] = total[key] + value
    return merged
