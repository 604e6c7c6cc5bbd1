"""Seeded builders of tiny ``cookie_features`` rows for the pair-scoring tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Sequence
from typing import Any

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
HOUR0 = int(T0.timestamp()) // 3600


def prefix_of(ip_hash: str) -> str:
    """The builders' convention: an IP's prefix is named after the IP's network part."""
    return f"net-{ip_hash.split('.')[0]}"


def cookie(
    site_id: str,
    cookie_id: str,
    *,
    ips: Sequence[str | tuple[str, int]] = (),
    hours: Sequence[tuple[str, int]] = (),
    ua: tuple[str | None, int | None, str | None, str | None] = (
        "Chrome",
        120,
        "Windows",
        "desktop",
    ),
    geo: tuple[str | None, str | None] = ("FR", "Paris"),
    hour_profile: Sequence[float] | None = None,
    query_terms: Sequence[str] = (),
    topics: Sequence[str] = (),
    login_hash: str | None = None,
    n_events: int = 10,
    n_active_days: int = 3,
    first_day: int = 0,
    last_day: int = 5,
) -> dict[str, Any]:
    """One ``COOKIE_FEATURES`` row as a dict.

    ``ips`` are IP hashes (popularity 2) or ``(hash, popularity)``; an IP ``"a.1"`` lies in
    prefix ``"net-a"``. ``hours`` are ``(ip_hash, hours after 2026-11-01T00Z)``.
    """
    ip_rows = []
    for ip in ips:
        ip_hash, popularity = (ip, 2) if isinstance(ip, str) else ip
        ip_rows.append(
            {
                "ip_hash": ip_hash,
                "ip_prefix": prefix_of(ip_hash),
                "n_events": 5,
                "ip_popularity": popularity,
            }
        )
    prefixes: dict[str, int] = {}
    for row in ip_rows:
        prefixes[row["ip_prefix"]] = prefixes.get(row["ip_prefix"], 0) + row["n_events"]
    ua_family, ua_major, os_family, device_type = ua
    return {
        "site_id": site_id,
        "cookie_id": cookie_id,
        "first_seen": T0 + dt.timedelta(days=first_day),
        "last_seen": T0 + dt.timedelta(days=last_day),
        "n_events": n_events,
        "n_active_days": n_active_days,
        "ips": ip_rows,
        "ip_prefixes": [{"ip_prefix": p, "n_events": n} for p, n in prefixes.items()],
        "ip_hours": [{"ip_hash": ip, "hour_bucket": HOUR0 + h} for ip, h in hours],
        "ua_family": ua_family,
        "ua_major": ua_major,
        "os_family": os_family,
        "device_type": device_type,
        "country": geo[0],
        "city": geo[1],
        "hour_profile": list(hour_profile) if hour_profile is not None else [1 / 24] * 24,
        "query_terms": list(query_terms),
        "topics": list(topics),
        "login_hash": login_hash,
        "ua_hash": hashlib.sha256(repr(ua).encode()).hexdigest()[:16] if all(ua) else None,
    }


def random_world(seed: int, *, people: int = 40, sites: int = 4) -> list[dict[str, Any]]:
    """A seeded small world: people with a home IP, a phone and a laptop, cookies on
    several sites, some reset cookies; plus a busy shared office IP."""
    rng = random.Random(seed)
    rows = []
    for p in range(people):
        home = f"h{p}.1"
        for device, ua in (
            ("laptop", ("Chrome", 120, "Windows", "desktop")),
            ("phone", ("Mobile Safari", 17, "iOS", "mobile")),
        ):
            for s in rng.sample(range(sites), k=rng.randint(1, sites)):
                hour = rng.randrange(0, 24 * 5)
                ips = [home, ("office.1", 300)] if rng.random() < 0.3 else [home]
                rows.append(
                    cookie(
                        f"site{s}",
                        f"p{p}-{device}-s{s}",
                        ips=ips,
                        ua=ua,
                        hours=[(home, hour)],
                        query_terms=[f"t{rng.randrange(200)}"],
                        login_hash=f"login{p}" if rng.random() < 0.5 else None,
                    )
                )
    return rows
