"""The consented measurement panel: every cookie of a few people, as a partner delivers it.

Identity vendors measure and calibrate a graph against a truth set: people who agreed to be
measured on all their devices and sites. The simulator picks ``share`` of the people (a fixed
number, ``round(share * people)``, drawn from its own random stream and independently of who
logs in) and writes, for each day D, ``raw/panel/dt=D/part-00000.jsonl``: one JSON object per
cookie of a panelist first seen on D, ``{"site_id", "cookie_id", "panel_id"}``. ``panel_id``
is the panelist's id as the partner hashes it (64 hex digits), never the person id.

The panel is complete for its members: every cookie a panelist's browsers hold appears in it,
which is what lets a pair of one panelist cookie and one other cookie count as a negative.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import orjson
import pyarrow as pa

PANEL_DIR = "raw/panel"


def choose_panelists(people: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted person ids of the panel: ``round(share * people)`` of them, drawn uniformly."""
    if not 0.0 <= share <= 1.0:
        raise ValueError("panel share must be within [0, 1]")
    size = min(people, round(share * people))
    return np.sort(rng.choice(people, size=size, replace=False)) if size else np.array([], int)


def panel_id(seed: int, person: int) -> str:
    """The partner's hashed id of one panelist (stable for a seed, unrelated to person ids)."""
    return hashlib.sha256(f"idgraph-sim-panel:{seed}:{person}".encode()).hexdigest()


def panel_lines(
    cookies: pa.Table, panelists: np.ndarray, *, seed: int, start: dt.date, days: int
) -> dict[dt.date, bytes]:
    """One JSON-lines file per day: the panelists' cookies by the day each was first seen.

    Args:
        cookies: ``truth/cookies`` rows (``site_id``, ``cookie_id``, ``person_id``,
            ``first_day``).
        panelists: person ids in the panel.
        start: first simulated day; ``days`` files are returned (empty ones included, as a
            partner's daily drop can be empty).
    """
    files: dict[dt.date, list[bytes]] = {start + dt.timedelta(days=d): [] for d in range(days)}
    members = set(panelists.tolist())
    ids = {p: panel_id(seed, p) for p in members}
    rows = cookies.select(["site_id", "cookie_id", "person_id", "first_day"]).to_pylist()
    for row in rows:
        person = row["person_id"]
        if person not in members:
            continue
        day = row["first_day"]
        if day in files:
            files[day].append(
                orjson.dumps(
                    {
                        "site_id": row["site_id"],
                        "cookie_id": row["cookie_id"],
                        "panel_id": ids[person],
                    }
                )
            )
    return {day: b"".join(line + b"\n" for line in lines) for day, lines in files.items()}
