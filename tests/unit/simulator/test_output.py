"""The simulator's files: determinism, schema, exact bad-record counts, truth coverage, CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import jsonschema
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from idgraph.simulator import BAD_RECORD_KINDS, simulate
from tests.unit.simulator.oracle import classify, read_lines, ts_ms

START = dt.date(2026, 3, 6)  # a Friday: the two days cover a weekday and a weekend day
SCHEMA = json.loads((Path(__file__).parent / "pixel_event.schema.json").read_text())


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sim") / "lake"
    simulate(str(root), START, days=2, people=400, seed=11, bad_rate=0.03)
    return root


def test_same_seed_same_bytes_other_seed_other_bytes(lake: Path, tmp_path: Path) -> None:
    simulate(str(tmp_path / "again"), START, days=2, people=400, seed=11, bad_rate=0.03)
    simulate(str(tmp_path / "other"), START, days=2, people=400, seed=12, bad_rate=0.03)
    first, again, other = _files(lake), _files(tmp_path / "again"), _files(tmp_path / "other")
    assert len(first) >= 2 * 3 + 2 + 2  # parts, counts and the two truth tables
    assert first == again
    assert set(first) == set(other)
    assert all(first[name] != other[name] for name in first if "raw/pixel" in name)


def test_bad_rate_does_not_move_the_good_events(lake: Path, tmp_path: Path) -> None:
    simulate(str(tmp_path / "clean"), START, days=1, people=400, seed=11, bad_rate=0.0)
    clean = read_lines(tmp_path / "clean", START)
    dirty = set(read_lines(lake, START))
    counts = json.loads((tmp_path / "clean/truth/injected/dt=2026-03-06/counts.json").read_text())
    assert sum(counts["injected"].values()) == 0
    # Only the events altered by warning kinds differ.
    injected = json.loads((lake / "truth/injected/dt=2026-03-06/counts.json").read_text())
    altered = ("raw_email_login", "long_user_agent", "long_url", "non_utf8", "no_consent")
    assert len([line for line in clean if line not in dirty]) <= sum(
        injected["injected"][k] for k in altered
    )


def test_good_lines_follow_the_schema(lake: Path) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    reasons, kept = classify(read_lines(lake, START), START, set())
    assert len(kept) > 1000
    for event in kept:
        validator.validate(event)
        assert event["site_id"].endswith(".example")
    ts_kinds = {type(e["ts"]) for e in kept}
    assert ts_kinds == {str, int}  # ISO 8601 mostly, epoch millis from an old pixel
    iso = [e["ts"] for e in kept if isinstance(e["ts"], str)]
    assert sum(t.endswith("Z") for t in iso) > 0.8 * len(iso)
    assert any(t.endswith("+01:00") for t in iso) and any(t.endswith("-06:00") for t in iso)


def test_counts_match_the_files_exactly(lake: Path) -> None:
    previous: set[str] = set()
    for offset in range(2):
        day = START + dt.timedelta(days=offset)
        lines = read_lines(lake, day)
        counts = json.loads((lake / f"truth/injected/dt={day}/counts.json").read_text())
        reasons, kept = classify(lines, day, previous)
        expected = {k: v for k, v in counts["counts"].items() if v}
        assert dict(reasons) == expected, day
        recon = counts["expected_reconciliation"]
        assert recon["lines_read"] == len(lines)
        assert recon["visits_written"] == len(kept)
        assert recon["lines_read"] == (
            recon["visits_written"]
            + recon["duplicates_dropped"]
            + recon["no_consent_dropped"]
            + recon["quarantined"]
        )
        # Every kind of docs/bad-input.md's table is present (re-deliveries need a previous day).
        wanted = set(BAD_RECORD_KINDS) - ({"duplicate_prev_day"} if offset == 0 else set())
        assert wanted <= {k for k, v in counts["injected"].items() if v > 0}
        previous = {e["event_id"] for e in kept}
    assert counts["natural"]["late_from_prev_day"] > 0


@pytest.mark.parametrize("people", [1, 3, 25])
def test_tiny_worlds_still_account_for_every_line(people: int, tmp_path: Path) -> None:
    simulate(str(tmp_path), START, days=3, people=people, seed=4, bad_rate=0.3)
    previous: set[str] = set()
    for offset in range(3):
        day = START + dt.timedelta(days=offset)
        counts = json.loads((tmp_path / f"truth/injected/dt={day}/counts.json").read_text())
        reasons, kept = classify(read_lines(tmp_path, day), day, previous)
        assert dict(reasons) == {k: v for k, v in counts["counts"].items() if v}
        assert counts["expected_reconciliation"]["visits_written"] == len(kept)
        previous = {e["event_id"] for e in kept}


def test_people_blocks_keep_every_guarantee(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import idgraph.simulator.run as run

    monkeypatch.setattr(run, "BLOCK_PEOPLE", 70)  # 200 people -> blocks of 70, 70, 60
    simulate(str(tmp_path / "a"), START, days=2, people=200, seed=8, bad_rate=0.05)
    simulate(str(tmp_path / "b"), START, days=2, people=200, seed=8, bad_rate=0.05)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    known = {
        (c["site_id"], c["cookie_id"])
        for c in pq.read_table(tmp_path / "a/truth/cookies").to_pylist()
    }
    previous: set[str] = set()
    for offset in range(2):
        day = START + dt.timedelta(days=offset)
        assert len(list((tmp_path / f"a/raw/pixel/dt={day}").glob("*.gz"))) == 9
        counts = json.loads((tmp_path / f"a/truth/injected/dt={day}/counts.json").read_text())
        reasons, kept = classify(read_lines(tmp_path / "a", day), day, previous)
        assert dict(reasons) == {k: v for k, v in counts["counts"].items() if v}
        assert {(e["site_id"], e["cookie_id"]) for e in kept} <= known
        previous = {e["event_id"] for e in kept}


def test_late_events_belong_to_the_previous_day(lake: Path) -> None:
    day = START + dt.timedelta(days=1)
    _, kept = classify(read_lines(lake, day), day, set())
    start_ms = int(dt.datetime(2026, 3, 7, tzinfo=dt.UTC).timestamp() * 1000)
    late = [e for e in kept if ts_ms(e["ts"]) < start_ms]
    assert late, "some events of D-1 arrive in D's folder"


def test_truth_covers_every_cookie_in_the_raw_files(lake: Path) -> None:
    cookies = pq.read_table(lake / "truth" / "cookies").to_pylist()
    people = pq.read_table(lake / "truth" / "people")
    known = {(c["site_id"], c["cookie_id"]) for c in cookies}
    assert len(known) == len(cookies)
    assert {c["person_id"] for c in cookies} <= set(people.column("person_id").to_pylist())
    for offset in range(2):
        day = START + dt.timedelta(days=offset)
        _, kept = classify(read_lines(lake, day), day, set())
        seen = {(e["site_id"], e["cookie_id"]) for e in kept}
        assert seen <= known
    expected = {
        "site_id",
        "cookie_id",
        "person_id",
        "household_id",
        "device_id",
        "browser_id",
        "device_type",
        "first_day",
        "last_day",
        "ever_logged_in",
    }
    assert expected <= set(cookies[0])


def test_raw_email_logins_normalise_to_a_real_login_hash(lake: Path) -> None:
    people = pq.read_table(lake / "truth" / "people").to_pylist()
    household_hashes: dict[int, set] = {}
    for p in people:
        household_hashes.setdefault(p["household_id"], set()).update(p["login_hashes"])
    cookies = pq.read_table(lake / "truth" / "cookies").to_pylist()
    # A shared tablet's cookie belongs to its main user; others in the household log in too.
    household = {(c["site_id"], c["cookie_id"]): c["household_id"] for c in cookies}
    _, kept = classify(read_lines(lake, START), START, set())
    raw = [e for e in kept if e.get("login_hash") and "@" in e["login_hash"]]
    assert raw
    for e in raw:
        digest = hashlib.sha256(e["login_hash"].strip().lower().encode()).hexdigest()
        assert digest in household_hashes[household[(e["site_id"], e["cookie_id"])]]
    manifest = json.loads((lake / "truth" / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["days"] == 2


def test_cli_simulate_writes_the_lake(tmp_path: Path) -> None:
    from idgraph.cli import app

    out = tmp_path / "cli-lake"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--out",
            str(out),
            "--start-date",
            "2026-03-06",
            "--days",
            "2",
            "--people",
            "150",
            "--seed",
            "5",
            "--bad-rate",
            "0.05",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "idgraph simulate" in result.output and "injected bad_ip" in result.output
    assert len(list((out / "raw/pixel/dt=2026-03-07").glob("part-*.json.gz"))) >= 3
    assert (out / "truth/injected/dt=2026-03-07/counts.json").exists()
    bad = CliRunner().invoke(app, ["simulate", "--out", str(out), "--start-date", "2026-02-30"])
    assert bad.exit_code != 0


def test_cli_takes_defaults_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from idgraph.cli import app

    monkeypatch.setenv("IDGRAPH_SIM_PEOPLE", "20")
    monkeypatch.setenv("IDGRAPH_SIM_DAYS", "1")
    monkeypatch.setenv("IDGRAPH_SIM_SEED", "9")
    result = CliRunner().invoke(
        app, ["simulate", "--out", str(tmp_path), "--start-date", "2026-03-06", "--seed", "10"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "truth" / "manifest.json").read_text())
    assert (manifest["people"], manifest["days"], manifest["seed"]) == (20, 1, 10)
    monkeypatch.setenv("IDGRAPH_SIM_BAD_RECORD_RATE", "0.9")  # out of range: refused early
    refused = CliRunner().invoke(
        app, ["simulate", "--out", str(tmp_path), "--start-date", "2026-03-06"]
    )
    assert refused.exit_code == 2


def test_the_panel_names_every_cookie_of_a_fixed_share_of_people(tmp_path: Path) -> None:
    """``round(share * people)`` panelists, chosen whoever logs in; each gets every cookie
    it ever held, under a hashed id; the pixel traffic does not depend on the panel."""
    simulate(str(tmp_path / "a"), dt.date(2026, 2, 1), 3, 200, 5, panel_share=0.05)
    simulate(str(tmp_path / "b"), dt.date(2026, 2, 1), 3, 200, 5, panel_share=0.0)
    people = pq.read_table(tmp_path / "a" / "truth" / "people").to_pylist()
    panelists = {p["person_id"] for p in people if p["panelist"]}
    assert len(panelists) == 10
    cookies = pq.read_table(tmp_path / "a" / "truth" / "cookies").to_pylist()
    expected = {
        (c["site_id"], c["cookie_id"]): c["person_id"]
        for c in cookies
        if c["person_id"] in panelists
    }
    got: dict[tuple[str, str], str] = {}
    for path in sorted((tmp_path / "a" / "raw" / "panel").rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            got[(row["site_id"], row["cookie_id"])] = row["panel_id"]
    assert set(got) == set(expected)
    ids = {}
    for key, pid in got.items():
        assert len(pid) == 64 and int(pid, 16) >= 0
        ids.setdefault(expected[key], set()).add(pid)
    # one id per panelist (a panelist who browsed nothing yet has no cookie to name)
    assert all(len(v) == 1 for v in ids.values()) and 0 < len(ids) <= len(panelists)
    for day in ("2026-02-01", "2026-02-02", "2026-02-03"):
        a = sorted((tmp_path / "a" / "raw" / "pixel" / f"dt={day}").iterdir())
        b = sorted((tmp_path / "b" / "raw" / "pixel" / f"dt={day}").iterdir())
        assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert not list((tmp_path / "b" / "raw" / "panel").rglob("*.jsonl"))[0].read_text()
