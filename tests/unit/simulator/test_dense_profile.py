"""The dense profile: few people with many cookies each, households packed behind few /24s."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from idgraph.simulator import simulate
from idgraph.simulator.world import PROFILES, build_world
from tests.unit.simulator.oracle import classify, read_lines

START = dt.date(2026, 3, 6)
DAYS = 3
PEOPLE = 40


def _prefix(ip: str) -> str:
    return ".".join(ip.split(".")[:3])


def _lake(root: Path, profile: str) -> dict:
    summary = simulate(str(root), START, days=DAYS, people=PEOPLE, seed=6, profile=profile)
    cookies = pq.read_table(root / "truth" / "cookies").to_pylist()
    owner = {(c["site_id"], c["cookie_id"]): c for c in cookies}
    events = []
    for offset in range(DAYS):
        day = START + dt.timedelta(days=offset)
        _, kept = classify(read_lines(root, day), day, set())
        for e in kept:
            truth = owner[(e["site_id"], e["cookie_id"])]
            events.append(e | {"person": truth["person_id"], "household": truth["household_id"]})
    return {"summary": summary, "cookies": cookies, "events": events, "root": root}


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    base = tmp_path_factory.mktemp("dense")
    return {profile: _lake(base / profile, profile) for profile in ("default", "dense")}


def test_many_more_cookies_per_person(lakes: dict[str, dict]) -> None:
    dense = len(lakes["dense"]["cookies"]) / PEOPLE
    default = len(lakes["default"]["cookies"]) / PEOPLE
    assert dense >= 30, dense
    assert dense >= 3 * default, (dense, default)
    # Many sites per person, on a computer and a phone, often in two browsers.
    per_person = defaultdict(set)
    for c in lakes["dense"]["cookies"]:
        per_person[c["person_id"]].add(c["site_id"])
    assert np.median([len(s) for s in per_person.values()]) >= 20
    browsers = Counter(c["browser_id"] for c in lakes["dense"]["cookies"])
    assert len(browsers) >= 2.5 * PEOPLE
    events = lakes["dense"]["summary"].events_per_day
    assert sum(events.values()) / (PEOPLE * DAYS) >= 50  # long days across many sites


def test_households_share_one_stable_home_ip(lakes: dict[str, dict]) -> None:
    events = lakes["dense"]["events"]
    by_ip: dict[str, set] = defaultdict(set)
    per_household: dict[int, Counter] = defaultdict(Counter)
    people: dict[int, set] = defaultdict(set)
    seen = Counter(e["person"] for e in events)
    for e in events:
        by_ip[e["ip"]].add(e["household"])
        per_household[e["household"]][e["ip"]] += 1
        if seen[e["person"]] >= 10:  # consent refusers and rare visitors are mostly unseen
            people[e["household"]].add(e["person"])
    homes = {hh: ips.most_common(1)[0][0] for hh, ips in per_household.items()}
    assert len(set(homes.values())) == len(homes)  # one home IP per household, never shared
    assert not any(":" in ip for ip in homes.values())  # IPv4 only: one address per home
    for hh, home in homes.items():
        assert by_ip[home] == {hh}
        at_home = {e["person"] for e in events if e["ip"] == home}
        assert people[hh] <= at_home  # every member browses from that one address
    multi = [hh for hh, p in people.items() if len(p) > 1]
    assert len(multi) >= 0.5 * len(homes)  # bigger households than the default world
    # A handful of /24 prefixes hold many households' homes.
    prefixes = Counter(_prefix(ip) for ip in homes.values())
    assert len(prefixes) <= len(homes) / 3, prefixes
    assert max(prefixes.values()) >= 4


def test_prefix_blocks_gather_many_cookies(lakes: dict[str, dict]) -> None:
    def largest_prefix(events: list[dict]) -> int:
        cookies: dict[str, set] = defaultdict(set)
        for e in events:
            if ":" not in e["ip"]:
                cookies[_prefix(e["ip"])].add((e["site_id"], e["cookie_id"]))
        return max(len(c) for c in cookies.values())

    dense, default = (largest_prefix(lakes[p]["events"]) for p in ("dense", "default"))
    assert dense >= 200 and dense >= 5 * default, (dense, default)


def test_world_shape() -> None:
    dense = build_world(300, np.random.default_rng(1), "dense")
    default = build_world(300, np.random.default_rng(1))
    assert default.profile is PROFILES["default"]
    assert dense.person_repertoire.shape[1] >= 40
    assert len(np.unique(dense.hh_country)) == 1
    assert not dense.hh_v6.any()
    assert len(np.unique(dense.hh_ip4)) == len(dense.hh_ip4)
    assert len(np.unique(dense.hh_ip4 >> 8)) <= len(dense.hh_ip4) / 8  # ~12 homes per /24
    assert len(dense.hh_ip4) < 0.8 * len(default.hh_ip4)  # bigger households
    assert (dense.person_office >= 0).mean() < 0.5 * (default.person_office >= 0).mean()
    assert (dense.person_computer >= 0).mean() > 0.85


def test_dense_home_ips_do_not_move(tmp_path: Path) -> None:
    from idgraph.simulator.cookies import CookieStore
    from idgraph.simulator.traffic import evolve

    world = build_world(200, np.random.default_rng(2), "dense")
    before = world.hh_ip4.copy()
    store = CookieStore(len(world.browser_kind), np.random.default_rng(0), START)
    for day in range(30):
        evolve(world, store, day, np.random.default_rng(day))
    assert (world.hh_ip4 == before).all()


def _content_digest(root: Path) -> str:
    """Digest of a lake's content (raw lines decompressed, truth tables as values), so it
    does not depend on the gzip or Parquet writers' versions."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel.endswith(".json.gz"):
            data = gzip.decompress(path.read_bytes())
        elif rel.endswith(".parquet"):
            data = repr(pq.read_table(path).to_pydict()).encode()
        else:
            data = path.read_bytes()
        digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def test_default_profile_output_is_unchanged(tmp_path: Path) -> None:
    """Pinned when the consented panel arrived (``raw/panel/``, ``panelist`` in the people
    truth; the pixel lines are the sittings' of before): the default world moves only on
    purpose, with this digest."""
    simulate(str(tmp_path / "a"), START, days=2, people=60, seed=13, bad_rate=0.05)
    simulate(
        str(tmp_path / "b"), START, days=2, people=60, seed=13, bad_rate=0.05, profile="default"
    )
    expected = "959f5d132c248cdec90aaf73c6569275a99b6381a1aa3dc340a9672505a4e9ac"
    assert _content_digest(tmp_path / "a") == expected
    assert _content_digest(tmp_path / "b") == expected
    manifest = json.loads((tmp_path / "a" / "truth" / "manifest.json").read_text())
    assert "profile" not in manifest


def test_unknown_profile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="profile"):
        simulate(str(tmp_path), START, days=1, people=5, seed=1, profile="sparse")


def test_cli_dense_profile_defaults_to_a_small_world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from idgraph.cli import app
    from idgraph.core.settings import load_settings
    from idgraph.core.settings.simulator import DENSE_PEOPLE

    result = CliRunner().invoke(
        app,
        ["simulate", "--lake", str(tmp_path), "--start-date", "2026-03-06", "--days", "1"]
        + ["--profile", "dense"],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "truth" / "manifest.json").read_text())
    assert (manifest["profile"], manifest["people"]) == ("dense", DENSE_PEOPLE)
    assert manifest["cookies"] >= 10 * DENSE_PEOPLE
    # An explicit number of people (flag or environment) wins over the profile's default.
    monkeypatch.setenv("IDGRAPH_SIM_PROFILE", "dense")
    assert load_settings().simulator.people == DENSE_PEOPLE
    assert load_settings(simulator={"people": 30}).simulator.people == 30
    monkeypatch.setenv("IDGRAPH_SIM_PEOPLE", "50")
    assert load_settings().simulator.people == 50
    monkeypatch.delenv("IDGRAPH_SIM_PROFILE")
    assert load_settings().simulator.profile == "default"
    bad = CliRunner().invoke(
        app,
        ["simulate", "--lake", str(tmp_path), "--start-date", "2026-03-06"]
        + ["--profile", "sparse"],
    )
    assert bad.exit_code != 0
