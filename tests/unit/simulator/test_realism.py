"""The simulated world is hard in the ways real traffic is: shared IPs, resets, few logins."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict

import pyarrow.parquet as pq
import pytest

from idgraph.simulator import simulate
from tests.unit.simulator.oracle import classify, read_lines, ts_ms

START = dt.date(2026, 9, 7)  # a Monday, a week before Safari's yearly major release
DAYS = 12


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("realism") / "lake"
    simulate(str(root), START, days=DAYS, people=700, seed=3)
    events = []
    for offset in range(DAYS):
        day = START + dt.timedelta(days=offset)
        _, kept = classify(read_lines(root, day), day, set())
        events.extend(e | {"day": offset} for e in kept)
    cookies = pq.read_table(root / "truth" / "cookies").to_pylist()
    people = pq.read_table(root / "truth" / "people").to_pylist()
    owner = {(c["site_id"], c["cookie_id"]): c for c in cookies}
    for e in events:
        truth = owner[(e["site_id"], e["cookie_id"])]
        e["person"], e["household"] = truth["person_id"], truth["household_id"]
    return {"events": events, "cookies": cookies, "people": people}


def _key(e: dict) -> tuple[str, str]:
    return e["site_id"], e["cookie_id"]


def test_volume_is_typical(world: dict) -> None:
    per_person_day = Counter((e["person"], e["day"]) for e in world["events"])
    mean = sum(per_person_day.values()) / len(per_person_day)
    assert 10 <= mean <= 30
    active_share = len(per_person_day) / (700 * DAYS)
    assert 0.3 < active_share < 0.9


def test_cookies_are_reset_by_itp_and_by_clearing(world: dict) -> None:
    by_id = {(c["site_id"], c["cookie_id"]): c for c in world["cookies"]}
    origins = Counter(c["origin"] for c in world["cookies"])
    assert origins["itp_expired"] > 0 and origins["cleared"] > 0
    for c in world["cookies"]:
        if c["replaces_cookie_id"] is not None:
            before = by_id[(c["site_id"], c["replaces_cookie_id"])]
            assert before["browser_id"] == c["browser_id"] and before["person_id"] == c["person_id"]
    itp = [c for c in world["cookies"] if c["origin"] == "itp_expired"]
    assert all(c["os"] in ("iOS", "iPadOS", "macOS") for c in itp)


def _ip_table(events: list[dict]) -> dict[str, dict]:
    table: dict[str, dict] = defaultdict(
        lambda: {"people": set(), "households": set(), "desktop": 0, "mobile": 0}
    )
    for e in events:
        row = table[e["ip"]]
        row["people"].add(e["person"])
        row["households"].add(e["household"])
        desktop = "Windows NT" in e["user_agent"] or "Macintosh" in e["user_agent"]
        row["desktop" if desktop else "mobile"] += 1
    return table


def test_shared_ips_offices_carriers_and_homes(world: dict) -> None:
    one_day = [e for e in world["events"] if e["day"] == 1]  # a Tuesday
    table = _ip_table(one_day)
    crowded = {ip: r for ip, r in table.items() if len(r["households"]) >= 4}
    carriers = [r for r in crowded.values() if r["mobile"] > r["desktop"]]
    offices = [r for r in crowded.values() if r["desktop"] > r["mobile"]]
    assert carriers and offices
    assert max(len(r["people"]) for r in carriers) >= 8  # CGNAT: many people, one address
    # Households share their home address.
    shared_home = [r for r in table.values() if len(r["households"]) == 1 and len(r["people"]) > 1]
    assert len(shared_home) >= 20
    assert any(":" in ip for ip in table)  # IPv6 homes or carriers


def test_geo_is_consistent_with_ip_blocks(world: dict) -> None:
    countries: dict[str, set] = defaultdict(set)
    for e in world["events"]:
        if e.get("country") and ":" not in e["ip"]:
            countries[".".join(e["ip"].split(".")[:2])].add(e["country"])
    assert countries
    assert all(len(c) == 1 for c in countries.values())


def test_logins_are_a_minority_and_some_people_use_two_emails(world: dict) -> None:
    logged = {_key(e) for e in world["events"] if e.get("login_hash")}
    all_cookies = {_key(e) for e in world["events"]}
    assert 0.05 < len(logged) / len(all_cookies) < 0.5
    hashes: dict[int, set] = defaultdict(set)
    for e in world["events"]:
        if e.get("login_hash"):
            hashes[e["person"]].add(e["login_hash"])
    assert any(len(h) == 2 for h in hashes.values())
    assert any(p["emails"] == 2 for p in world["people"])


def test_naive_rules_fail(world: dict) -> None:
    """Same IP + same UA links strangers; login links alone miss most true links."""
    cookies_person = {_key(e): e["person"] for e in world["events"]}
    by_person: dict[int, set] = defaultdict(set)
    for key, person in cookies_person.items():
        by_person[person].add(key)
    true_pairs = {
        tuple(sorted(p)) for s in by_person.values() for p in itertools.combinations(s, 2)
    }

    groups: dict[tuple, set] = defaultdict(set)
    logins: dict[str, set] = defaultdict(set)
    for e in world["events"]:
        groups[(e["day"], e["ip"], e["user_agent"])].add(_key(e))
        if e.get("login_hash"):
            logins[e["login_hash"]].add(_key(e))
    naive = {
        tuple(sorted(p))
        for g in groups.values()
        if len(g) < 200
        for p in itertools.combinations(g, 2)
    }
    precision = len(naive & true_pairs) / len(naive)
    assert precision < 0.9, precision
    login_pairs = {tuple(sorted(p)) for g in logins.values() for p in itertools.combinations(g, 2)}
    recall = len(login_pairs & true_pairs) / len(true_pairs)
    assert recall < 0.5, recall
    naive_recall = len(naive & true_pairs) / len(true_pairs)
    assert naive_recall < 0.6, naive_recall


def test_user_agents_update_and_rhythms_and_interests(world: dict) -> None:
    uas: dict[tuple, set] = defaultdict(set)
    hours = Counter()
    for e in world["events"]:
        uas[_key(e)].add(e["user_agent"])
        ts = e["ts"]
        if e.get("country") in ("GB", "DE", "FR", "ES", "NL"):  # UTC+0/+1: UTC ~ local time
            hours[ts_ms(ts) // 3_600_000 % 24] += 1
    assert any(len(v) > 1 for v in uas.values())  # a browser updated during the run
    night = sum(hours[h] for h in (2, 3, 4))
    evening = sum(hours[h] for h in (18, 19, 20))
    assert evening > 4 * night, (evening, night)
    searches = [e["url"] for e in world["events"] if "?q=" in (e.get("url") or "")]
    assert len(searches) > 100
    # A person's searches repeat their interests across sites.
    terms: dict[int, Counter] = defaultdict(Counter)
    for e in world["events"]:
        if "?q=" in (e.get("url") or ""):
            terms[e["person"]].update(e["url"].split("?q=")[1].split("+"))
    top_share = [
        c.most_common(1)[0][1] / sum(c.values()) for c in terms.values() if sum(c.values()) >= 10
    ]
    assert sum(top_share) / len(top_share) > 0.1


def _browsing_sessions(events: list[dict], timeout_ms: int = 30 * 60_000) -> list[list[dict]]:
    """Sessions as browsing studies cut them: one person's events from one browser (user
    agent) and address, split at a pause longer than ``timeout_ms``."""
    streams: dict[tuple, list[tuple[int, dict]]] = defaultdict(list)
    for e in events:
        t = ts_ms(e["ts"])
        if t is not None:
            streams[(e["person"], e["user_agent"], e["ip"])].append((t, e))
    sessions: list[list[dict]] = []
    for stream in streams.values():
        stream.sort(key=lambda x: x[0])
        current = [stream[0]]
        for prev, nxt in itertools.pairwise(stream):
            if nxt[0] - prev[0] > timeout_ms:
                sessions.append([e | {"_t": t} for t, e in current])
                current = []
            current.append(nxt)
        sessions.append([e | {"_t": t} for t, e in current])
    return sessions


def test_sittings_string_several_sites_together(world: dict) -> None:
    """Calibrated to published browsing studies (docs/simulator.md, "Browsing sessions"):
    most sessions touch more than one site, a few sites each within one site network, and
    page views follow each other within seconds to a minute."""
    sessions = _browsing_sessions(world["events"])
    sites = [len({e["site_id"] for e in s}) for s in sessions]
    multi = sum(n >= 2 for n in sites) / len(sites)
    assert 0.45 <= multi <= 0.85, multi
    assert 1.8 <= sum(sites) / len(sites) <= 4.0
    gaps = sorted(b["_t"] - a["_t"] for s in sessions for a, b in itertools.pairwise(s))
    median = gaps[len(gaps) // 2]
    assert 5_000 <= median <= 60_000, median
    assert sum(g < 60_000 for g in gaps) / len(gaps) >= 0.55


def test_a_browser_hops_between_sites_within_a_minute(world: dict) -> None:
    """Consecutive events of one (IP, user agent) stream from two cookies of two sites within a
    minute: the evidence the session features read. Mostly one person (a housemate with the
    same browser build in the same minute is rare)."""
    streams: dict[tuple, list[tuple[int, dict]]] = defaultdict(list)
    for e in world["events"]:
        t = ts_ms(e["ts"])
        if t is not None:
            streams[(e["ip"], e["user_agent"])].append((t, e))
    same = other = 0
    for stream in streams.values():
        stream.sort(key=lambda x: x[0])
        for (ta, a), (tb, b) in itertools.pairwise(stream):
            if a["site_id"] != b["site_id"] and tb - ta <= 60_000:
                same += a["person"] == b["person"]
                other += a["person"] != b["person"]
    assert same > 2_000
    assert other / (same + other) < 0.05
