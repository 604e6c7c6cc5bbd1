"""One day of browsing: who is online, when, where, on which device, browser and site.

Sessions are drawn per person (daily rhythm, weekday/weekend), placed at home, at the office
or out on a mobile network, then expanded to page views. Everything is vectorised over the
day's sessions and events; only strings are built in Python, once per distinct value where
possible (user agents, IPs, cookie values) or once per event (URLs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from idgraph.simulator import catalog as cat
from idgraph.simulator.cookies import CookieStore
from idgraph.simulator.useragents import render, version_codes
from idgraph.simulator.world import World, random_host

DAY_MS = 86_400_000
HOME, OFFICE, MOBILE = 0, 1, 2
PHONE, COMPUTER, TABLET = 0, 1, 2
# Consent as the pixel reports it: field absent, true, false, null.
CONSENT_ABSENT, CONSENT_TRUE, CONSENT_FALSE, CONSENT_NULL = 0, 1, 2, 3
N_SITES = len(cat.SITE_IDS)
SITE_HOST = tuple(f"www.{s}" for s in cat.SITE_IDS)
SITE_TOPIC = np.array(cat.SITE_TOPIC)
# Sites with a consent banner report true/false; a few send null; the rest omit the field.
SITE_CONSENT_MODE = np.array(
    [
        CONSENT_NULL if i % 10 == 9 else (CONSENT_ABSENT if i % 10 in (2, 5) else CONSENT_TRUE)
        for i in range(N_SITES)
    ]
)
# An old pixel version on some sites sends epoch milliseconds instead of ISO 8601.
SITE_EPOCH_TS = np.array([i % 8 == 3 for i in range(N_SITES)])
# A few sites' pixels report the visitor's local time with its UTC offset (valid ISO 8601).
SITE_LOCAL_TS = np.array([i % 16 == 6 for i in range(N_SITES)])
_UTC_OFFSET = np.array([cat.UTC_OFFSET_HOURS[c] for c, _, _ in cat.COUNTRIES])
_TOPIC_FIRST = np.cumsum([0] + [len(cat.TERMS[t]) for t in cat.TOPICS])


@dataclass
class DayTraffic:
    """A day's events (sorted by time) and the sessions they belong to."""

    ts_ms: np.ndarray  # per event: epoch milliseconds
    session: np.ndarray  # per event: session index
    url: list[str]
    referrer: list[str | None]
    s_person: np.ndarray  # per session
    s_cookie: np.ndarray
    s_site: np.ndarray
    s_consent: np.ndarray
    s_login: list[str | None]
    s_fragment: list[str]  # JSON members shared by the session's events
    s_utc_offset: np.ndarray  # visitor's UTC offset in hours (home country, no DST)


def _choose(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row, drawn from unnormalised row weights."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _ipv4(addresses: np.ndarray) -> list[str]:
    a = addresses.astype(np.uint32)
    return [
        f"{w}.{x}.{y}.{z}"
        for w, x, y, z in zip(
            (a >> 24).tolist(),
            (a >> 16 & 255).tolist(),
            (a >> 8 & 255).tolist(),
            (a & 255).tolist(),
            strict=True,
        )
    ]


def _ipv6(g0: np.ndarray, g1: np.ndarray, g2: np.ndarray, rng: np.random.Generator) -> list[str]:
    """``2a0G:G1:G2:…``: the /48 comes from the arguments, the rest is a random privacy address."""
    rand = rng.integers(0, 1 << 16, (len(g0), 5)).tolist()
    return [
        f"2a0{a % 10}:{b % 65536:x}:{c % 65536:x}:{r[0]:x}:{r[1]:x}:{r[2]:x}:{r[3]:x}:{r[4] | 1:x}"
        for a, b, c, r in zip(g0.tolist(), g1.tolist(), g2.tolist(), rand, strict=True)
    ]


def _json_str(value: str | None) -> str:
    if value is None:
        return "null"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def evolve(world: World, store: CookieStore, day: int, rng: np.random.Generator) -> None:
    """Overnight changes: some home IPs are reassigned, some people clear their cookies.

    Home IPs are stable under the dense profile (its reassignment rate is 0).
    """
    moved = np.flatnonzero(rng.random(len(world.hh_ip4)) < world.profile.ip_reassign)
    blocks = world.isp_block[world.hh_isp[moved], rng.integers(0, 4, len(moved))]
    world.hh_ip4[moved] = random_host(rng, blocks)
    owner = world.device_owner[world.browser_device]
    cleared = rng.random(len(owner)) < world.person_clear[owner]
    store.browser_cleared[cleared] = day


def simulate_day(
    world: World,
    store: CookieStore,
    day_index: int,
    day: dt.date,
    rng: np.random.Generator,
    people: tuple[int, int],
    activity: float = 1.0,
) -> DayTraffic:
    """Generate the events of ``day`` for people ``people[0]..people[1]-1``; update cookies.

    Call ``evolve`` once per day first (overnight IP and cookie changes).

    Args:
        world: the population.
        store: cookie state carried from day to day.
        day_index: days since ``start``.
        day: the UTC day being generated.
        rng: this day's (and block's) generator.
        people: the block of person ids to simulate (bounds memory on big worlds).
        activity: multiplier on session counts (tunes events per person-day).
    """
    prof = world.profile
    weekend = day.weekday() >= 5
    day_ms = (day - dt.date(1970, 1, 1)).days * DAY_MS

    # Who is online and how many sessions.
    lo, hi = people
    chance = world.person_active[lo:hi] * (0.8 if weekend else 1)
    active = lo + np.flatnonzero(rng.random(hi - lo) < chance)
    lam = world.person_sessions[active] * (1.2 if weekend else 1.0) * activity
    # Sittings: one device and browser, one network, several sites in a row (see below); as
    # many site visits a day as before plus about one, so volume stays typical.
    n_sess = 1 + rng.poisson(lam * prof.sitting_sites)
    person = np.repeat(active, n_sess)
    n = len(person)
    household = world.person_household[person]
    country = world.hh_country[household]

    # When (local hour from the person's profile) and where.
    profiles = world.profiles_weekend if weekend else world.profiles_weekday
    cum = profiles[world.person_profile[person]]
    local_hour = np.minimum((cum < rng.random(n)[:, None]).sum(axis=1), 23)
    utc_hour = (local_hour - _UTC_OFFSET[country]) % 24
    office = world.person_office[person]
    at_office = (office >= 0) & (not weekend) & (local_hour >= 9) & (local_hour < 17)
    at_office &= rng.random(n) < prof.at_office  # the rest work from home that day
    evening = (local_hour >= 19) | (local_hour < 7)
    at_home = ~at_office & (rng.random(n) < np.where(evening, *prof.at_home))
    place = np.where(at_office, OFFICE, np.where(at_home, HOME, MOBILE))

    # Device: what the person has at hand in that place.
    phone = world.person_phone[person]
    computer = world.person_computer[person]
    tablet = world.hh_tablet[household]
    w = np.zeros((n, 3))
    w[:, PHONE] = np.select([place == OFFICE, place == HOME], [0.3, 0.45], 1.0) * (phone >= 0)
    w[:, COMPUTER] = np.select([place == OFFICE, place == HOME], [0.7, 0.35], 0.0) * (computer >= 0)
    w[:, COMPUTER] += (w.sum(axis=1) == 0) * (computer >= 0)  # laptop in a cafe
    w[:, TABLET] = (place == HOME) * np.where(evening, 0.35, 0.2) * (tablet >= 0)
    form = _choose(rng, w)
    device = np.choose(form, [phone, computer, tablet])
    pair = world.device_browsers[device]
    use_second = (pair[:, 1] >= 0) & (rng.random(n) < prof.second_browser_use)
    browser = np.where(use_second, pair[:, 1], pair[:, 0])

    # Network, IP and geo-IP.
    on_carrier = (place == MOBILE) | (
        (form == PHONE) & (rng.random(n) < np.where(place == OFFICE, *prof.phone_on_carrier))
    )
    net = np.where(on_carrier, MOBILE, place)
    ip, city = _addresses(world, rng, net, person, household, office)
    no_geo = rng.random(n) < 0.02

    # A sitting strings site visits together: news, then mail, then a shop, from the same
    # browser and address, each visit starting a short pause after the previous one ends.
    sites = np.minimum(rng.geometric(prof.sitting_sites, n), 12)
    sitting = np.repeat(np.arange(n), sites)
    person, household, country = person[sitting], household[sitting], country[sitting]
    utc_hour, browser, no_geo = utc_hour[sitting], browser[sitting], no_geo[sitting]
    city = city[sitting]
    ip = [ip[i] for i in sitting.tolist()]
    n = len(sitting)

    # Site, cookie, login, consent.
    rank = np.minimum(np.searchsorted(prof.rank_cum, rng.random(n)), prof.repertoire - 1)
    site = world.person_repertoire[person, rank]
    registered = world.person_registered[person, rank]
    cookie = store.resolve(browser, site, world.browser_itp[browser], day_index)
    logged = (registered >= 0) & (rng.random(n) < 0.85)
    store.logged_in[cookie[logged]] = True
    login: list[str | None] = [None] * n
    for i in np.flatnonzero(logged).tolist():
        login[i] = world.mail.login_hash(int(person[i]), int(registered[i]))
    consent = SITE_CONSENT_MODE[site].copy()
    consent[world.person_refuser[person] & (consent != CONSENT_ABSENT)] = CONSENT_FALSE

    fragment = _session_members(world, store, day, browser, site, cookie, ip, city, no_geo)

    # Page views: a geometric number per session, spaced by exponential reading times.
    views = np.minimum(rng.geometric(prof.page_views, n), 30)
    ev_sess = np.repeat(np.arange(n), views)
    gaps = rng.exponential(50_000, len(ev_sess)).astype(np.int64)
    first = np.cumsum(views) - views
    gaps[first] = 0
    offset = np.cumsum(gaps)
    offset -= offset[first][ev_sess]
    duration = offset[np.cumsum(views) - 1]
    # Each visit of a sitting starts after the previous visit's last page and a pause.
    lead = np.flatnonzero(np.r_[True, sitting[1:] != sitting[:-1]])
    step = np.r_[0, duration[:-1]] + rng.exponential(prof.hop_gap_ms, n).astype(np.int64)
    step[lead] = 0
    within = np.cumsum(step)
    within -= np.repeat(within[lead], sites)
    sitting_length = within + duration
    sit_start = utc_hour[lead] * 3_600_000 + rng.integers(0, 3_600_000, len(lead))
    sit_start = np.minimum(sit_start, DAY_MS - 1 - np.maximum.reduceat(sitting_length, lead))
    start_ms = np.maximum(sit_start, 0)[sitting] + within
    ts = day_ms + start_ms[ev_sess] + offset
    ts = np.minimum(ts, day_ms + DAY_MS - 1)

    urls, refs = _pages(world, rng, person[ev_sess], site[ev_sess], ev_sess, first)
    order = np.argsort(ts, kind="stable")
    return DayTraffic(
        ts_ms=ts[order],
        session=ev_sess[order],
        url=[urls[i] for i in order.tolist()],
        referrer=[refs[i] for i in order.tolist()],
        s_person=person,
        s_cookie=cookie,
        s_site=site,
        s_consent=consent,
        s_login=login,
        s_fragment=fragment,
        s_utc_offset=_UTC_OFFSET[country],
    )


def _addresses(
    world: World,
    rng: np.random.Generator,
    net: np.ndarray,
    person: np.ndarray,
    household: np.ndarray,
    office: np.ndarray,
) -> tuple[list[str], np.ndarray]:
    """Public IP and geo-IP city of each session, given its network (home, office, mobile).

    Homes: the household's current IPv4, or an IPv6 address in its stable /48 prefix.
    Offices: one of the office's one or two egress addresses. Mobile: an address drawn from
    the carrier's small CGNAT pool (rotating per session), or IPv6 on carriers that offer it.
    """
    carrier = world.person_carrier[person]
    n = len(person)
    ip = [""] * n
    city = world.hh_city[household].copy()
    home = np.flatnonzero(net == HOME)
    home_v6 = world.hh_v6[household[home]] & (rng.random(len(home)) < 0.7)
    h6, h4 = home[home_v6], home[~home_v6]
    for i, s in zip(h4.tolist(), _ipv4(world.hh_ip4[household[h4]]), strict=True):
        ip[i] = s
    hh6 = household[h6]
    h6_ip = _ipv6(world.hh_isp[hh6], 0x1000 + world.hh_isp[hh6], world.hh_ip6[hh6], rng)
    for i, s in zip(h6.tolist(), h6_ip, strict=True):
        ip[i] = s
    fuzzy = home[rng.random(len(home)) < 0.1]  # geo-IP puts some homes in the ISP's hub city
    city[fuzzy] = world.city_hub[world.hh_country[household[fuzzy]]]
    off = np.flatnonzero(net == OFFICE)
    o_ip = world.office_ip4[office[off], rng.integers(0, 2, len(off))]
    for i, s in zip(off.tolist(), _ipv4(o_ip), strict=True):
        ip[i] = s
    city[off] = world.office_city[office[off]]
    mob = np.flatnonzero(net == MOBILE)
    mob_v6 = world.carrier_v6[carrier[mob]] & (rng.random(len(mob)) < 0.75)
    m6, m4 = mob[mob_v6], mob[~mob_v6]
    pool_pick = rng.random(len(m4))
    m4_ip = np.array(
        [
            world.carrier_pool[c][int(u * len(world.carrier_pool[c]))]
            for c, u in zip(carrier[m4].tolist(), pool_pick.tolist(), strict=True)
        ],
        dtype=np.uint32,
    )
    for i, s in zip(m4.tolist(), _ipv4(m4_ip), strict=True):
        ip[i] = s
    m6_ip = _ipv6(carrier[m6] + 5, 0x8000 + carrier[m6], rng.integers(0, 16, len(m6)), rng)
    for i, s in zip(m6.tolist(), m6_ip, strict=True):
        ip[i] = s
    city[mob] = world.carrier_city[carrier[mob]]
    return ip, city


def _session_members(
    world: World,
    store: CookieStore,
    day: dt.date,
    browser: np.ndarray,
    site: np.ndarray,
    cookie: np.ndarray,
    ip: list[str],
    city: np.ndarray,
    no_geo: np.ndarray,
) -> list[str]:
    """The JSON members every event of a session shares (site, cookie, IP, UA, geo).

    User agents are rendered once per distinct (kind, device variant, version) and cookie
    values looked up once per distinct cookie, not once per session.
    """
    kind = world.browser_kind[browser]
    version = version_codes(kind, world.browser_lag[browser], day)
    variant = world.device_variant[world.browser_device[browser]]
    ua_code = kind * 10**8 + variant * 10**5 + version
    ua_keys, ua_inv = np.unique(ua_code, return_inverse=True)
    ua_text = [
        _json_str(render(int(k // 10**8), int(k % 10**5), int(k // 10**5 % 1000), day))
        for k in ua_keys.tolist()
    ]
    c_keys, c_inv = np.unique(cookie, return_inverse=True)
    c_text = [store.values[c] for c in c_keys.tolist()]
    geo = [
        (
            f'"country":"{cat.COUNTRIES[c][0]}","city":{_json_str(world.cities[t][1])}'
            if not ng
            else '"country":null,"city":null'
        )
        for c, t, ng in zip(
            world.city_country[city].tolist(), city.tolist(), no_geo.tolist(), strict=True
        )
    ]
    return [
        f',"site_id":"{cat.SITE_IDS[s]}","cookie_id":"{c_text[ci]}","ip":"{addr}",'
        f'"user_agent":{ua_text[ui]},{g}'
        for s, ci, addr, ui, g in zip(
            site.tolist(), c_inv.tolist(), ip, ua_inv.tolist(), geo, strict=True
        )
    ]


def _pages(
    world: World,
    rng: np.random.Generator,
    person: np.ndarray,
    site: np.ndarray,
    session: np.ndarray,
    first: np.ndarray,
) -> tuple[list[str], list[str | None]]:
    """URL and referrer of each page view (events in session order)."""
    n = len(person)
    is_first = np.zeros(n, dtype=bool)
    is_first[first] = True
    kind = np.where(
        is_first & (rng.random(n) < 0.35), 0, _choose(rng, np.tile([0.05, 0.2, 0.75], (n, 1)))
    )
    topic = SITE_TOPIC[site]
    span = _TOPIC_FIRST[topic + 1] - _TOPIC_FIRST[topic]
    site_term = _TOPIC_FIRST[topic] + (rng.random((2, n)) * span).astype(np.int64)
    pet = world.person_terms[person, rng.integers(0, 4, (2, n))]
    term = np.where(rng.random((2, n)) < 0.45, pet, site_term)
    article = rng.integers(10_000, 999_999, n)
    terms = world.terms
    urls = []
    for k, s, t, a, b, art in zip(
        kind.tolist(),
        site.tolist(),
        topic.tolist(),
        term[0].tolist(),
        term[1].tolist(),
        article.tolist(),
        strict=True,
    ):
        host = SITE_HOST[s]
        if k == 0:
            urls.append(f"https://{host}/")
        elif k == 1:
            urls.append(f"https://{host}/search?q={terms[a]}+{terms[b]}")
        else:
            urls.append(f"https://{host}/{cat.TOPICS[t]}/{terms[a]}-{terms[b]}-{art}")
    external = rng.integers(0, len(cat.SEARCH_REFERRERS), n)
    has_external = rng.random(n) < 0.55
    # A session's first page comes from a search engine, a social site or nowhere; the
    # next ones from the previous page.
    refs: list[str | None] = [
        (cat.SEARCH_REFERRERS[e] if h else None) if f else urls[i - 1]
        for i, (f, e, h) in enumerate(
            zip(is_first.tolist(), external.tolist(), has_external.tolist(), strict=True)
        )
    ]
    return urls, refs
