"""The simulated population: households, people, devices, browsers and the networks they use.

Built once per run, vectorised with numpy from one seeded generator, so a world of 100k+
people takes about a second. Everything is a flat array indexed by id (person, household,
device, browser, office, carrier); ids are positions, which keeps joins to plain indexing.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from idgraph.simulator import catalog as cat
from idgraph.simulator.useragents import KIND_CALENDAR, KIND_CHOICES, KIND_ITP

N_SITES = len(cat.SITE_IDS)
REPERTOIRE = 12  # sites a person visits regularly, favourite first (default profile)
HOURS = 24
SHIFTS = 5  # chronotype shift of -2..+2 hours applied to an archetype profile

# Public first octets only (no private, loopback, CGNAT 100.64/10, multicast or docs ranges).
_FIRST_OCTETS = np.array(
    [o for o in range(2, 224) if o not in (10, 100, 127, 169, 172, 192, 198, 203)],
    dtype=np.uint32,
)


@dataclass(frozen=True)
class Profile:
    """The shape of a world: who lives where, what they own, how much they browse.

    ``default`` is many people with a dozen sites each (a broad panel of a site network).
    ``dense`` mimics real browsing histories of a few people: every person visits most of the
    catalog on a computer and a phone, often in two browsers, mostly from a home IP that the
    whole household shares and that sits in one of a handful of /24 prefixes of the ISP.
    """

    name: str
    repertoire: int  # sites a person visits regularly
    rank_exponent: float  # Zipf exponent of visits over the repertoire (lower: flatter tail)
    household_sizes: tuple[float, float, float, float, float]  # shares of 1..5 people
    one_country: bool  # every household in one country (drawn by weight)
    isp_shares: tuple[float, float, float]  # the country's three home ISPs
    home_v6: tuple[float, float]  # IPv6 share of households: main ISP, the others
    home_prefix_size: int  # 0: homes anywhere in the ISP's /16s; else households per /24
    ip_reassign: float  # nightly chance a home IPv4 is reassigned
    worker: float  # share of people with an office
    active: tuple[float, float]  # beta(a, b) chance of being online on a weekday
    sessions: tuple[float, float]  # gamma(shape, scale) mean extra sessions per active day
    has_phone: float
    has_computer: float
    second_browser: float  # share of devices with a second browser
    second_browser_use: float  # share of a two-browser device's sessions in the second one
    at_office: float  # share of office-hours sessions of workers spent at the office
    at_home: tuple[float, float]  # share of the rest at home: evening, daytime
    phone_on_carrier: tuple[float, float]  # phone on mobile data at the office, at home
    page_views: float  # geometric p of page views per session (lower: longer sessions)
    sitting_sites: float = 0.4  # geometric p of site visits per sitting (one browser, no break)
    hop_gap_ms: float = 20_000.0  # mean pause between one site's last page and the next site

    @property
    def rank_cum(self) -> np.ndarray:
        """Cumulative visit shares over the repertoire ranks, favourite first."""
        return _rank_cum(self.repertoire, self.rank_exponent)


@functools.cache
def _rank_cum(repertoire: int, exponent: float) -> np.ndarray:
    cum = np.cumsum(1 / np.arange(1, repertoire + 1) ** exponent)
    cum /= cum[-1]
    cum.flags.writeable = False
    return cum


PROFILES: dict[str, Profile] = {
    "default": Profile(
        name="default",
        repertoire=REPERTOIRE,
        rank_exponent=1.1,
        household_sizes=(0.28, 0.34, 0.16, 0.15, 0.07),
        one_country=False,
        isp_shares=(0.5, 0.3, 0.2),
        home_v6=(0.55, 0.15),
        home_prefix_size=0,
        ip_reassign=0.008,
        worker=0.58,
        active=(2.2, 1.1),
        sessions=(2.0, 0.9),
        has_phone=0.93,
        has_computer=0.72,
        second_browser=0.22,
        second_browser_use=0.25,
        at_office=0.8,
        at_home=(0.9, 0.6),
        phone_on_carrier=(0.45, 0.1),
        page_views=0.2,
    ),
    "dense": Profile(
        name="dense",
        repertoire=min(48, N_SITES - 1),
        rank_exponent=0.45,
        household_sizes=(0.08, 0.22, 0.25, 0.28, 0.17),
        one_country=True,
        isp_shares=(0.75, 0.15, 0.1),
        home_v6=(0.0, 0.0),
        home_prefix_size=12,
        ip_reassign=0.0,
        worker=0.2,
        active=(6.0, 1.0),
        sessions=(5.0, 4.0),
        has_phone=0.96,
        has_computer=0.92,
        second_browser=0.6,
        second_browser_use=0.45,
        at_office=0.6,
        at_home=(0.97, 0.85),
        phone_on_carrier=(0.3, 0.03),
        page_views=0.15,
        sitting_sites=0.3,
    ),
}


def _bump(hours: np.ndarray, centre: float, width: float, height: float) -> np.ndarray:
    distance = np.minimum(np.abs(hours - centre), 24 - np.abs(hours - centre))
    return height * np.exp(-0.5 * (distance / width) ** 2)


def _hour_profiles() -> tuple[np.ndarray, np.ndarray]:
    """Cumulative local-hour distributions, (archetype*SHIFTS + shift, 24), weekday and weekend."""
    h = np.arange(HOURS, dtype=np.float64)
    # (bumps on weekdays, bumps at weekends): early bird, office rhythm, evening, night owl.
    archetypes = (
        (((7, 1.0, 3), (12.5, 1, 1.5), (19, 1.5, 2.5)), ((9, 1.5, 2), (14, 2, 1.5), (19, 2, 2))),
        (((8, 1.0, 2), (12.5, 1, 2), (20.5, 1.5, 3)), ((11, 2, 2), (16, 2, 1.5), (21, 1.5, 2.5))),
        (((9, 1.5, 1), (13, 1, 1), (21, 1.5, 4)), ((12, 2, 1.5), (20, 2, 3), (23, 1.5, 1))),
        (((11, 2.0, 1), (22, 1.5, 3), (0.5, 1, 2)), ((14, 2, 1.5), (23, 1.5, 3), (1.5, 1, 2))),
    )
    out = []
    for weekend in (0, 1):
        rows = []
        for bumps in archetypes:
            base = 0.03 + sum(_bump(h, c, w, a) for c, w, a in bumps[weekend])
            for shift in range(-2, 3):
                p = np.roll(base, shift)
                rows.append(np.cumsum(p / p.sum()))
        out.append(np.array(rows))
    return out[0], out[1]


@dataclass
class World:
    """Every entity of the simulation as column arrays (index = id)."""

    # households
    hh_country: np.ndarray
    hh_city: np.ndarray  # index into ``cities``
    hh_isp: np.ndarray
    hh_v6: np.ndarray  # household has IPv6 (dual stack)
    hh_ip4: np.ndarray  # current public IPv4 (uint32), reassigned now and then
    hh_ip6: np.ndarray  # 16 bits of the delegated prefix under the ISP's /32
    hh_tablet: np.ndarray  # device id of the shared tablet or -1
    # people
    person_household: np.ndarray
    person_office: np.ndarray  # -1 when not an office worker
    person_profile: np.ndarray  # row of the hour profile tables
    person_active: np.ndarray  # chance of being online on a weekday
    person_sessions: np.ndarray  # mean extra sessions per active day
    person_refuser: np.ndarray  # always refuses tracking consent
    person_clear: np.ndarray  # daily chance of clearing cookies in a browser
    person_login: np.ndarray  # chance to be logged in on a site one is registered on
    person_repertoire: np.ndarray  # (P, profile.repertoire) site ids, favourite first
    person_registered: np.ndarray  # (P, profile.repertoire) e-mail index used there or -1
    person_terms: np.ndarray  # (P, 4) indices into ``terms``: pet search terms
    person_phone: np.ndarray  # device id or -1
    person_computer: np.ndarray  # device id or -1
    person_carrier: np.ndarray  # mobile carrier id
    mail: Mailboxes  # 0-2 e-mail addresses per person
    # devices
    device_type: np.ndarray  # index into catalog.DEVICE_TYPES
    device_owner: np.ndarray  # person (for a shared tablet: its main user)
    device_household: np.ndarray
    device_variant: np.ndarray  # Android version / phone model selector
    device_browsers: np.ndarray  # (D, 2): primary browser id, secondary or -1
    # browsers
    browser_device: np.ndarray
    browser_kind: np.ndarray  # index into useragents.KINDS
    browser_lag: np.ndarray  # days before updates are installed
    browser_itp: np.ndarray
    # networks
    office_ip4: np.ndarray  # (O, 2) one or two egress addresses
    office_city: np.ndarray
    office_country: np.ndarray
    carrier_country: np.ndarray
    carrier_city: np.ndarray  # geo-IP places the whole carrier in its hub city
    carrier_pool: list[np.ndarray]  # CGNAT egress IPv4 addresses per carrier
    carrier_v6: np.ndarray  # carrier hands out IPv6 to most sessions
    isp_block: np.ndarray  # (I, 4) /16 blocks of each home ISP
    isp_country: np.ndarray
    cities: list[tuple[str, str]]  # (country, city)
    city_country: np.ndarray  # country index of each city
    city_hub: np.ndarray  # per country, the city geo-IP falls back to
    terms: list[str]
    profiles_weekday: np.ndarray
    profiles_weekend: np.ndarray
    profile: Profile = PROFILES["default"]

    @property
    def people(self) -> int:
        """Number of people."""
        return len(self.person_household)


def _sample(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=size, p=p / p.sum())


def _blocks(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct public /16 blocks as uint32 base addresses."""
    codes = rng.choice(len(_FIRST_OCTETS) * 256, size=n, replace=False)
    return (_FIRST_OCTETS[codes // 256] << 24) | (codes % 256).astype(np.uint32) << 16


def random_host(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """A random usable host address (last octet 1..254) inside each /16 ``base``."""
    third = rng.integers(0, 256, size=len(base), dtype=np.uint32)
    fourth = rng.integers(1, 255, size=len(base), dtype=np.uint32)
    return base | (third << 8) | fourth


class Mailboxes:
    """People's e-mail addresses and login hashes, derived on demand (most are never needed).

    An address is a pure function of the person's id and a few seeded draws, so computing it
    lazily keeps the world cheap to build without changing any output.
    """

    def __init__(self, rng: np.random.Generator, people: int) -> None:
        self.count = _sample(rng, np.array([0.12, 0.68, 0.20]), people)
        # Python lists: addresses are built one at a time, where numpy scalars are slow.
        self._first = rng.integers(0, len(cat.FIRST_NAMES), people).tolist()
        self._last = rng.integers(0, len(cat.LAST_NAMES), people).tolist()
        self._domain = rng.integers(0, len(cat.MAIL_DOMAINS), (people, 2)).tolist()
        self._hashes: dict[tuple[int, int], str] = {}

    def address(self, person: int, which: int) -> str:
        """The ``which``-th (0 or 1) address of ``person``."""
        f, la = cat.FIRST_NAMES[self._first[person]], cat.LAST_NAMES[self._last[person]]
        domain = cat.MAIL_DOMAINS[self._domain[person][which]]
        if which == 0:
            return f"{f}.{la}{person}@{domain}"
        return f"{f[0]}{la}.{person % 997}x{person}@{domain}"

    def login_hash(self, person: int, which: int) -> str:
        """Lowercase hex SHA-256 of the trimmed, lowercased address (the pixel's login_hash)."""
        key = (int(person), int(which))
        found = self._hashes.get(key)
        if found is None:
            normalised = self.address(*key).strip().lower()
            found = self._hashes[key] = hashlib.sha256(normalised.encode()).hexdigest()
        return found

    def hashes_of(self, person: int) -> list[str]:
        """Every login hash of ``person`` (empty when they have no address)."""
        return [self.login_hash(person, i) for i in range(int(self.count[person]))]


def _clustered_homes(
    rng: np.random.Generator, isp_block: np.ndarray, hh_isp: np.ndarray, per_prefix: int
) -> np.ndarray:
    """Home IPv4s packed into few /24 prefixes, one distinct host per household.

    Each ISP gets one /24 inside its /16 blocks per ``per_prefix`` of its households
    (rounded up); its households take distinct hosts spread over those prefixes.
    """
    ip4 = np.zeros(len(hh_isp), dtype=np.uint32)
    for isp in np.unique(hh_isp).tolist():
        homes = np.flatnonzero(hh_isp == isp)
        n_prefixes = min(-(-len(homes) // per_prefix), 4 * 256)
        codes = rng.choice(4 * 256, size=n_prefixes, replace=False)
        prefixes = isp_block[isp, codes // 256] | (codes % 256).astype(np.uint32) << 8
        slots = rng.choice(n_prefixes * 254, size=len(homes), replace=False)
        ip4[homes] = prefixes[slots // 254] | (slots % 254 + 1).astype(np.uint32)
    return ip4


def build_world(people: int, rng: np.random.Generator, profile: Profile | str = "default") -> World:
    """Create households, people, devices, browsers and networks.

    Args:
        people: number of people.
        rng: the world's generator (the caller derives it from the seed).
        profile: the world's shape, a ``Profile`` or a key of ``PROFILES``. The default
            profile draws exactly what it always drew, so its output never changes.
    """
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    repertoire = prof.repertoire
    if not 1 <= repertoire < N_SITES:
        raise ValueError(f"repertoire must be within [1, {N_SITES - 1}]")
    cities = [(c, name) for c, _, cs in cat.COUNTRIES for name, _ in cs]
    city_country = np.array([ci for ci, (_, _, cs) in enumerate(cat.COUNTRIES) for _ in cs])
    city_weight = np.array(
        [w * cw / sum(x for _, x in cs) for _, w, cs in cat.COUNTRIES for _, cw in cs]
    )
    city_hub = np.array(
        [int(np.flatnonzero(city_country == c)[0]) for c in range(len(cat.COUNTRIES))]
    )
    n_countries = len(cat.COUNTRIES)

    # Households of 1-5 people (roughly census shares).
    sizes = _sample(rng, np.array(prof.household_sizes), people) + 1
    sizes = sizes[np.cumsum(sizes) - sizes < people]
    sizes[-1] -= sizes.sum() - people
    n_hh = len(sizes)
    person_household = np.repeat(np.arange(n_hh), sizes)
    if prof.one_country:  # one country, drawn by weight: one market, a few ISPs
        home = _sample(rng, np.array([w for _, w, _ in cat.COUNTRIES]), 1)[0]
        city_weight = np.where(city_country == home, city_weight, 0.0)
    hh_city = _sample(rng, city_weight, n_hh)
    hh_country = city_country[hh_city]

    # Home ISPs: three per country, four /16 blocks each.
    isp_country = np.repeat(np.arange(n_countries), 3)
    n_isp = len(isp_country)
    all_blocks = _blocks(rng, n_isp * 4 + n_countries * 3)
    isp_block = all_blocks[: n_isp * 4].reshape(n_isp, 4)
    carrier_blocks = all_blocks[n_isp * 4 :]
    hh_isp = hh_country * 3 + _sample(rng, np.array(prof.isp_shares), n_hh)
    hh_ip4 = random_host(rng, isp_block[hh_isp, rng.integers(0, 4, n_hh)])
    hh_v6 = rng.random(n_hh) < np.where(hh_isp % 3 == 0, *prof.home_v6)
    hh_ip6 = rng.integers(0, 1 << 16, n_hh, dtype=np.int64)
    if prof.home_prefix_size:
        hh_ip4 = _clustered_homes(rng, isp_block, hh_isp, prof.home_prefix_size)

    # People.
    worker = rng.random(people) < prof.worker
    # Offices: per country, ~30 staff on average but Zipf-sized, so a few hold hundreds
    # behind one address. Staff live in the office's country; the office sits in one of its
    # two largest cities.
    person_country = hh_country[person_household]
    person_office = np.full(people, -1, dtype=np.int64)
    office_country_parts: list[np.ndarray] = []
    for c in range(n_countries):
        staff = np.flatnonzero(worker & (person_country == c))
        n_here = max(1, len(staff) // 30)
        weight = 1.0 / np.arange(1, n_here + 1) ** 1.1
        base = int(sum(len(x) for x in office_country_parts))
        person_office[staff] = base + _sample(rng, weight, len(staff))
        office_country_parts.append(np.full(n_here, c))
    office_country = np.concatenate(office_country_parts)
    n_offices = len(office_country)
    office_city = city_hub[office_country] + rng.integers(0, 2, n_offices)
    office_isp = office_country * 3 + rng.integers(0, 3, n_offices)
    office_ip4 = np.stack(
        [random_host(rng, isp_block[office_isp, rng.integers(0, 4, n_offices)]) for _ in range(2)],
        axis=1,
    )
    single = rng.random(n_offices) < 0.7
    office_ip4[single, 1] = office_ip4[single, 0]

    arche = _sample(rng, np.array([0.2, 0.4, 0.28, 0.12]), people)
    person_profile = arche * SHIFTS + rng.integers(0, SHIFTS, people)
    person_active = np.clip(rng.beta(*prof.active, people), 0.05, 0.98)
    person_sessions = rng.gamma(*prof.sessions, people)
    person_refuser = rng.random(people) < 0.04
    person_clear = np.where(rng.random(people) < 0.06, 0.08, 0.002)
    person_login = rng.beta(1.6, 2.0, people)

    # Interests: a Dirichlet over topics; sites weighted by popularity x interest,
    # repertoire drawn without replacement with the Gumbel-top-k trick.
    interest = rng.dirichlet(np.full(len(cat.TOPICS), 0.35), people)
    site_topic = np.array(cat.SITE_TOPIC)
    weight = np.array(cat.SITE_POPULARITY)[None, :] * (interest[:, site_topic] + 0.02)
    keys = np.log(weight) + rng.gumbel(size=weight.shape)
    top = np.argpartition(-keys, repertoire, axis=1)[:, :repertoire]
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
    person_repertoire = np.take_along_axis(top, order, axis=1)
    has_login = np.array(cat.SITE_HAS_LOGIN)[person_repertoire]
    mail = Mailboxes(rng, people)
    n_emails = mail.count
    rank_boost = np.where(np.arange(repertoire) < 4, 1.0, 0.5)[None, :]
    registered = has_login & (rng.random(has_login.shape) < person_login[:, None] * rank_boost)
    registered &= n_emails[:, None] > 0
    second = (n_emails[:, None] == 2) & (rng.random(has_login.shape) < 0.4)
    person_registered = np.where(registered, second.astype(np.int8), -1).astype(np.int8)
    terms = [t for topic in cat.TOPICS for t in cat.TERMS[topic]]
    topic_first = np.cumsum([0] + [len(cat.TERMS[t]) for t in cat.TOPICS])
    top_topics = np.argpartition(-interest, 2, axis=1)[:, :2]
    pick_topic = top_topics[np.arange(people)[:, None], rng.integers(0, 2, (people, 4))]
    span = topic_first[pick_topic + 1] - topic_first[pick_topic]
    person_terms = topic_first[pick_topic] + (rng.random((people, 4)) * span).astype(np.int64)

    # Devices: phone (most), computer (many), one shared tablet in some households.
    has_phone = rng.random(people) < prof.has_phone
    has_computer = rng.random(people) < prof.has_computer
    has_phone |= ~has_computer
    hh_tablet_wanted = (sizes >= 2) & (rng.random(n_hh) < 0.45) | (rng.random(n_hh) < 0.08)
    phone_owner = np.flatnonzero(has_phone)
    computer_owner = np.flatnonzero(has_computer)
    tablet_hh = np.flatnonzero(hh_tablet_wanted)
    hh_first = np.cumsum(sizes) - sizes
    tablet_owner = hh_first[tablet_hh] + (rng.random(len(tablet_hh)) * sizes[tablet_hh]).astype(int)
    device_owner = np.concatenate([phone_owner, computer_owner, tablet_owner])
    device_type = np.repeat([0, 1, 2], [len(phone_owner), len(computer_owner), len(tablet_hh)])
    n_dev = len(device_owner)
    device_household = person_household[device_owner]
    person_phone = np.full(people, -1)
    person_phone[phone_owner] = np.arange(len(phone_owner))
    person_computer = np.full(people, -1)
    person_computer[computer_owner] = len(phone_owner) + np.arange(len(computer_owner))
    hh_tablet = np.full(n_hh, -1)
    hh_tablet[tablet_hh] = len(phone_owner) + len(computer_owner) + np.arange(len(tablet_hh))
    device_variant = rng.integers(0, 100, n_dev)

    # Platform per device, then 1-2 browser kinds on it.
    ios_phone = rng.random(n_dev) < np.where(
        np.isin(hh_country[device_household], [0, 1, 6]), 0.55, 0.35
    )
    mac = rng.random(n_dev) < 0.3
    ipad = rng.random(n_dev) < 0.6
    # platform codes follow the order of KIND_CHOICES
    platform = np.where(
        device_type == 0,
        np.where(ios_phone, 2, 3),
        np.where(device_type == 1, np.where(mac, 1, 0), np.where(ipad, 4, 5)),
    )
    primary = np.zeros(n_dev, dtype=np.int64)
    other = np.full(n_dev, -1, dtype=np.int64)
    for code, (kinds, shares) in enumerate(KIND_CHOICES.values()):
        mask = platform == code
        n = int(mask.sum())
        if n == 0:
            continue
        choice = _sample(rng, np.array(shares), n)
        primary[mask] = np.array(kinds)[choice]
        if len(kinds) > 1:
            alt = np.array(kinds)[(choice + 1 + rng.integers(0, len(kinds) - 1, n)) % len(kinds)]
            other[mask] = np.where(rng.random(n) < prof.second_browser, alt, -1)
    has_other = other >= 0
    browser_device = np.concatenate([np.arange(n_dev), np.flatnonzero(has_other)])
    browser_kind = np.concatenate([primary, other[has_other]])
    device_browsers = np.stack([np.arange(n_dev), np.full(n_dev, -1)], axis=1)
    device_browsers[has_other, 1] = n_dev + np.arange(int(has_other.sum()))
    browser_lag = np.where(
        KIND_CALENDAR[browser_kind] == KIND_CALENDAR[4],
        rng.integers(0, 120, len(browser_kind)),
        rng.integers(0, 21, len(browser_kind)),
    )

    # Mobile carriers: three per country; CGNAT pools far smaller than their subscriber base.
    carrier_country = np.repeat(np.arange(n_countries), 3)
    person_carrier = hh_country[person_household] * 3 + _sample(
        rng, np.array([0.45, 0.35, 0.2]), people
    )
    subscribers = np.bincount(person_carrier, minlength=len(carrier_country))
    carrier_pool = []
    for c in range(len(carrier_country)):
        n_addr = max(4, int(subscribers[c]) // 40)
        block = carrier_blocks[c].repeat(n_addr)
        carrier_pool.append(np.unique(random_host(rng, block)))
    carrier_v6 = rng.random(len(carrier_country)) < 0.4
    carrier_city = city_hub[carrier_country]

    weekday, weekend = _hour_profiles()
    return World(
        hh_country=hh_country,
        hh_city=hh_city,
        hh_isp=hh_isp,
        hh_v6=hh_v6,
        hh_ip4=hh_ip4,
        hh_ip6=hh_ip6,
        hh_tablet=hh_tablet,
        person_household=person_household,
        person_office=person_office,
        person_profile=person_profile,
        person_active=person_active,
        person_sessions=person_sessions,
        person_refuser=person_refuser,
        person_clear=person_clear,
        person_login=person_login,
        person_repertoire=person_repertoire,
        person_registered=person_registered,
        person_terms=person_terms,
        person_phone=person_phone,
        person_computer=person_computer,
        person_carrier=person_carrier,
        mail=mail,
        device_type=device_type,
        device_owner=device_owner,
        device_household=device_household,
        device_variant=device_variant,
        device_browsers=device_browsers,
        browser_device=browser_device,
        browser_kind=browser_kind,
        browser_lag=browser_lag,
        browser_itp=KIND_ITP[browser_kind],
        office_ip4=office_ip4,
        office_city=office_city,
        office_country=office_country,
        carrier_country=carrier_country,
        carrier_city=carrier_city,
        carrier_pool=carrier_pool,
        carrier_v6=carrier_v6,
        isp_block=isp_block,
        isp_country=isp_country,
        cities=cities,
        city_country=city_country,
        city_hub=city_hub,
        terms=terms,
        profiles_weekday=weekday,
        profiles_weekend=weekend,
        profile=prof,
    )
