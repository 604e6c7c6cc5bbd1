"""Building blocks: user agents a real parser understands, and cookie reset rules."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from ua_parser import parse

from idgraph.simulator.cookies import ITP_DAYS, SITE_SCRIPT_COOKIE, CookieStore
from idgraph.simulator.useragents import KINDS, render, version_codes

DAY = dt.date(2026, 11, 20)

# kind -> (ua-parser browser family, OS family, device family or None)
EXPECTED = {
    0: ("Chrome", "Windows", None),
    1: ("Edge", "Windows", None),
    2: ("Firefox", "Windows", None),
    3: ("Chrome", "Mac OS X", "Mac"),
    4: ("Safari", "Mac OS X", "Mac"),
    5: ("Firefox", "Mac OS X", "Mac"),
    6: ("Mobile Safari", "iOS", "iPhone"),
    7: ("Chrome Mobile iOS", "iOS", "iPhone"),
    8: ("Firefox iOS", "iOS", "iPhone"),
    9: ("Chrome Mobile", "Android", "K"),
    10: ("Samsung Internet", "Android", "Samsung SM-S918B"),
    11: ("Firefox Mobile", "Android", "Generic Smartphone"),
    12: ("Safari", "Mac OS X", "Mac"),  # iPadOS Safari asks for desktop sites by default
    13: ("Chrome", "Android", "K"),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_user_agents_parse_as_their_browser(kind: int) -> None:
    version = int(version_codes(np.array([kind]), np.array([0]), DAY)[0])
    parsed = parse(render(kind, version, 0, DAY))
    device = parsed.device.family if parsed.device else None
    assert (parsed.user_agent.family, parsed.os.family, device) == EXPECTED[kind]
    assert int(parsed.user_agent.major) == version // 100


def test_versions_follow_release_calendars_and_update_lag() -> None:
    kinds = np.array([0, 0, 4, 10])
    lag = np.array([0, 10, 0, 0])
    now = version_codes(kinds, lag, DAY) // 100
    later = version_codes(kinds, lag, DAY + dt.timedelta(days=28)) // 100
    assert later[0] == now[0] + 1  # Chrome: a major every 4 weeks
    assert now[1] <= now[0]  # a lagging browser is never ahead
    year = version_codes(kinds, lag, DAY + dt.timedelta(days=365)) // 100
    assert year[2] == now[2] + 1  # Safari: one major a year
    assert year[3] > now[3]
    assert len(KINDS) == len(EXPECTED)


def _store() -> CookieStore:
    return CookieStore(browsers=3, rng=np.random.default_rng(0), start=DAY)


def test_one_cookie_per_browser_and_site() -> None:
    store = _store()
    script, server = (
        int(np.flatnonzero(SITE_SCRIPT_COOKIE)[0]),
        int(np.flatnonzero(~SITE_SCRIPT_COOKIE)[0]),
    )
    first = store.resolve(
        np.array([0, 0, 1, 0]), np.array([script, script, script, server]), np.zeros(4, bool), day=0
    )
    assert first[0] == first[1] and len(set(first.tolist())) == 3
    again = store.resolve(np.array([0]), np.array([script]), np.zeros(1, bool), day=3)
    assert again[0] == first[0]
    assert store.n == 3 and len(set(store.values)) == 3


@pytest.mark.parametrize(
    ("itp", "script", "gap", "reset"),
    [
        (True, True, ITP_DAYS, False),  # revisited within the cap: the cookie is refreshed
        (True, True, ITP_DAYS + 1, True),  # Safari's 7-day cap
        (True, False, 30, False),  # server-set cookies are exempt
        (False, True, 30, False),  # other browsers keep cookies
    ],
)
def test_itp_cap(itp: bool, script: bool, gap: int, reset: bool) -> None:
    store = _store()
    site = int(np.flatnonzero(SITE_SCRIPT_COOKIE == script)[0])
    before = store.resolve(np.array([0]), np.array([site]), np.array([itp]), day=0)[0]
    after = store.resolve(np.array([0]), np.array([site]), np.array([itp]), day=gap)[0]
    assert (after != before) == reset
    if reset:
        assert store.previous[after] == before and store.reason[after] == 1


def test_clearing_cookies_resets_every_site_of_that_browser_only() -> None:
    store = _store()
    browsers, sites = np.array([0, 0, 1]), np.array([1, 2, 1])
    before = store.resolve(browsers, sites, np.zeros(3, bool), day=0)
    store.browser_cleared[0] = 2
    after = store.resolve(browsers, sites, np.zeros(3, bool), day=2)
    assert after[0] != before[0] and after[1] != before[1] and after[2] == before[2]
    assert set(store.reason[after[:2]].tolist()) == {2}
    # Cleared once: the new cookies survive later visits.
    assert (store.resolve(browsers, sites, np.zeros(3, bool), day=3) == after).all()
