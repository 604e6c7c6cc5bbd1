"""``simulate``: build a world, generate each day's raw pixel files, then write the truth."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa

from idgraph.simulator import catalog as cat
from idgraph.simulator.badrecords import KINDS, NON_UTF8_BYTES, NON_UTF8_MARK
from idgraph.simulator.cookies import REASONS, CookieStore
from idgraph.simulator.delivery import Carry, assemble, merge_counts
from idgraph.simulator.encode import render_lines
from idgraph.simulator.lake_io import LakeWriter
from idgraph.simulator.panel import PANEL_DIR, choose_panelists, panel_lines
from idgraph.simulator.traffic import evolve, simulate_day
from idgraph.simulator.useragents import KINDS as BROWSER_KINDS
from idgraph.simulator.world import PROFILES, World, build_world

# Independent generator streams per purpose, so e.g. the bad-record rate never changes the
# good events, and the world does not depend on the number of days.
_WORLD, _COOKIES, _TRAFFIC, _RENDER, _NATURAL, _INJECT, _EVOLVE, _PANEL = range(8)
# People are simulated in blocks of this size, each day: memory stays at one block's lines
# (~0.5M) however big the world. A constant, so the output never depends on the machine.
BLOCK_PEOPLE = 50_000


@dataclass
class DayReport:
    """Headline figures of one generated day."""

    day: dt.date
    lines: int
    events_of_day: int
    injected: int
    seconds: float


@dataclass
class SimulationSummary:
    """What ``simulate`` wrote."""

    out: str
    start: dt.date
    days: int
    people: int
    households: int
    devices: int
    browsers: int
    cookies: int
    profile: str = "default"
    panelists: int = 0
    lines_per_day: dict[str, int] = field(default_factory=dict)
    events_per_day: dict[str, int] = field(default_factory=dict)
    injected_by_kind: dict[str, int] = field(default_factory=dict)
    natural_by_kind: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # every thread of the process; robust to a busy machine
    phase_seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase

    @property
    def lines(self) -> int:
        """Raw lines written over every day (events, duplicates and bad records)."""
        return sum(self.lines_per_day.values())


@contextlib.contextmanager
def _timed(phases: dict[str, float], name: str) -> Iterator[None]:
    began = time.perf_counter()
    yield
    phases[name] = phases.get(name, 0.0) + time.perf_counter() - began


def _encode(lines: list[str]) -> bytes:
    """One part file's bytes: JSON Lines in UTF-8, with the injected invalid bytes in place.

    Only the few marked lines are patched at byte level; the rest is joined and encoded in
    runs (an empty part is an empty file, never a blank line).
    """
    marked = [i for i, line in enumerate(lines) if NON_UTF8_MARK in line]
    pieces: list[bytes] = []
    begin = 0
    for i in marked:
        pieces.append("\n".join([*lines[begin:i], ""]).encode())
        pieces.append(lines[i].encode().replace(NON_UTF8_MARK.encode(), NON_UTF8_BYTES) + b"\n")
        begin = i + 1
    pieces.append("\n".join([*lines[begin:], ""]).encode())
    return b"".join(pieces)


def _rng(seed: int, stream: int, day: int = 0, block: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, day, block])


def _tally(summary: SimulationSummary, day: dt.date, counts: dict) -> None:
    summary.lines_per_day[day.isoformat()] = counts["lines"]
    summary.events_per_day[day.isoformat()] = counts["events_of_day"]
    for kind, value in counts["injected"].items():
        summary.injected_by_kind[kind] += value
    for kind, value in counts["natural"].items():
        summary.natural_by_kind[kind] = summary.natural_by_kind.get(kind, 0) + value


def simulate(
    out: str,
    start: dt.date,
    days: int,
    people: int,
    seed: int,
    bad_rate: float = 0.0,
    activity: float = 1.0,
    on_day: Callable[[DayReport], None] | None = None,
    profile: str = "default",
    panel_share: float = 0.01,
) -> SimulationSummary:
    """Simulate ``days`` days of pixel traffic from ``start`` into the lake at ``out``.

    Writes ``raw/pixel/dt=D/part-NNNNN.json.gz`` per day, ``truth/injected/dt=D/counts.json``
    per day, and at the end ``truth/cookies`` and ``truth/people`` (Parquet). Output is
    byte-identical for the same arguments.

    Args:
        out: lake root (local path or ``s3://``).
        start: first day.
        days: number of days.
        people: number of people in the world.
        seed: random seed.
        bad_rate: injected bad records as a share of each day's good lines (0 = none);
            every kind gets at least one record when positive.
        activity: multiplier on sessions per active person-day (volume knob).
        on_day: called after each day is written (progress reporting).
        profile: the world's shape, a key of ``world.PROFILES``: ``default`` (many people,
            ~12 sites each) or ``dense`` (few people with ~140 cookies each over a month,
            households packed into a few /24 prefixes). Recorded in the manifest unless
            ``default``, which keeps the default output byte-identical to earlier versions.
        panel_share: share of the people in the consented measurement panel
            (``raw/panel/dt=D/part-00000.jsonl``, see ``idgraph.simulator.panel``).
    """
    if days < 1 or people < 1:
        raise ValueError("days and people must be at least 1")
    if not 0.0 <= bad_rate <= 0.5:
        raise ValueError("bad_rate must be within [0, 0.5]")
    if not 0.0 <= panel_share <= 1.0:
        raise ValueError("panel_share must be within [0, 1]")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    started = time.perf_counter()
    cpu_started = time.process_time()
    phases: dict[str, float] = {}
    clock = functools.partial(_timed, phases)
    lake = LakeWriter(out)
    with clock("world"):
        world = build_world(people, _rng(seed, _WORLD), profile)
    store = CookieStore(len(world.browser_kind), _rng(seed, _COOKIES), start)
    summary = SimulationSummary(
        out=out,
        start=start,
        days=days,
        people=people,
        households=len(world.hh_country),
        devices=len(world.device_type),
        browsers=len(world.browser_kind),
        cookies=0,
        profile=profile,
        injected_by_kind=dict.fromkeys(KINDS, 0),
        natural_by_kind={},
    )
    blocks = [(lo, min(lo + BLOCK_PEOPLE, people)) for lo in range(0, people, BLOCK_PEOPLE)]
    carries = [Carry() for _ in blocks]
    for d in range(days):
        t0 = time.perf_counter()
        day = start + dt.timedelta(days=d)
        evolve(world, store, d, _rng(seed, _EVOLVE, d))
        folder = f"raw/pixel/dt={day.isoformat()}"
        lake.reset_dir(folder)
        counts: dict | None = None
        parts_written = 0
        for b, block in enumerate(blocks):
            with clock("traffic"):
                traffic = simulate_day(
                    world, store, d, day, _rng(seed, _TRAFFIC, d, b), block, activity
                )
            with clock("render"):
                lines = render_lines(traffic, _rng(seed, _RENDER, d, b))
                # Rendered into the lines: free the URL strings before the next copy.
                traffic.url.clear()
                traffic.referrer.clear()
            with clock("deliver"):
                day_file, carries[b] = assemble(
                    traffic,
                    lines,
                    carries[b],
                    day,
                    bad_rate,
                    world.mail,
                    _rng(seed, _NATURAL, d, b),
                    _rng(seed, _INJECT, d, b),
                )
            del traffic, lines
            with clock("write"):
                parts_written += lake.write_gzip_parts(
                    folder, (_encode(part) for part in day_file.parts), first=parts_written
                )
            counts = merge_counts(counts, day_file.counts)
        assert counts is not None
        with clock("write"):
            counts_dir = f"truth/injected/dt={day.isoformat()}"
            lake.reset_dir(counts_dir)
            lake.write_bytes(
                f"{counts_dir}/counts.json", orjson.dumps(counts, option=orjson.OPT_INDENT_2)
            )
        _tally(summary, day, counts)
        if on_day is not None:
            on_day(
                DayReport(
                    day,
                    counts["lines"],
                    counts["events_of_day"],
                    sum(counts["injected"].values()),
                    time.perf_counter() - t0,
                )
            )
    with clock("truth"):
        panelists = choose_panelists(people, panel_share, _rng(seed, _PANEL))
        cookies = cookie_truth(world, store, start)
        lake.write_parquet("truth/cookies", cookies)
        lake.write_parquet("truth/people", people_truth(world, store, panelists))
        for day, data in panel_lines(cookies, panelists, seed=seed, start=start, days=days).items():
            folder = f"{PANEL_DIR}/dt={day.isoformat()}"
            lake.reset_dir(folder)
            lake.write_bytes(f"{folder}/part-00000.jsonl", data)
        manifest = {
            "start": start.isoformat(),
            "days": days,
            "people": people,
            "seed": seed,
            "bad_rate": bad_rate,
            "activity": activity,
            "panel_share": panel_share,
            "panelists": len(panelists),
        }
        if profile != "default":  # absent means default: old manifests stay byte-identical
            manifest["profile"] = profile
        manifest["cookies"] = store.n
        lake.write_bytes("truth/manifest.json", orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    summary.cookies = store.n
    summary.panelists = len(panelists)
    summary.seconds = time.perf_counter() - started
    summary.cpu_seconds = time.process_time() - cpu_started
    summary.phase_seconds = phases
    return summary


def cookie_truth(world: World, store: CookieStore, start: dt.date) -> pa.Table:
    """One row per cookie ever issued: who owns it and where it came from."""
    n = store.n
    browser = store.browser[:n]
    device = world.browser_device[browser]
    person = world.device_owner[device]
    kind = world.browser_kind[browser]
    epoch = np.datetime64(start, "D")
    return pa.table(
        {
            "site_id": pa.array([cat.SITE_IDS[s] for s in store.site[:n].tolist()]),
            "cookie_id": pa.array(store.values[:n]),
            "person_id": pa.array(person, pa.int64()),
            "household_id": pa.array(world.person_household[person], pa.int64()),
            "device_id": pa.array(device, pa.int64()),
            "browser_id": pa.array(browser, pa.int64()),
            "device_type": pa.array(
                [cat.DEVICE_TYPES[t] for t in world.device_type[device].tolist()]
            ),
            "os": pa.array([BROWSER_KINDS[k].os for k in kind.tolist()]),
            "browser_family": pa.array([BROWSER_KINDS[k].browser for k in kind.tolist()]),
            "shared_device": pa.array(world.device_type[device] == 2),
            "first_day": pa.array(epoch + store.first_day[:n].astype("timedelta64[D]")),
            "last_day": pa.array(epoch + store.last_day[:n].astype("timedelta64[D]")),
            "ever_logged_in": pa.array(store.logged_in[:n]),
            "origin": pa.array([REASONS[r] for r in store.reason[:n].tolist()]),
            "replaces_cookie_id": pa.array(
                [store.values[p] if p >= 0 else None for p in store.previous[:n].tolist()],
                pa.string(),
            ),
        }
    )


def people_truth(world: World, store: CookieStore, panelists: np.ndarray | None = None) -> pa.Table:
    """One row per person: household, place, e-mails and login hashes, habits, panel."""
    p = np.arange(world.people)
    hh = world.person_household
    hashes = [world.mail.hashes_of(i) for i in p.tolist()]
    owner = world.device_owner[world.browser_device[store.browser[: store.n]]]
    return pa.table(
        {
            "person_id": pa.array(p, pa.int64()),
            "household_id": pa.array(hh, pa.int64()),
            "country": pa.array([cat.COUNTRIES[c][0] for c in world.hh_country[hh].tolist()]),
            "city": pa.array([world.cities[c][1] for c in world.hh_city[hh].tolist()]),
            "emails": pa.array(world.mail.count, pa.int8()),
            "login_hashes": pa.array(hashes, pa.list_(pa.string())),
            "office_id": pa.array(
                np.where(world.person_office >= 0, world.person_office, -1), pa.int64()
            ),
            "consent_refuser": pa.array(world.person_refuser),
            "has_phone": pa.array(world.person_phone >= 0),
            "has_computer": pa.array(world.person_computer >= 0),
            "household_tablet": pa.array(world.hh_tablet[hh] >= 0),
            "cookies": pa.array(np.bincount(owner, minlength=world.people), pa.int64()),
            "panelist": pa.array(np.isin(p, panelists if panelists is not None else [])),
        }
    )
