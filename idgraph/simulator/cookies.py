"""First-party cookies: one live cookie per (browser, site), replaced when it is lost.

A cookie is lost when the browser's owner clears cookies, or, on WebKit browsers (Safari
and every iOS browser), when a site that sets its cookie from JavaScript is not revisited
within 7 days (Safari ITP caps such cookies to 7 days). The replacement keeps the browser
and site but gets a new value: exactly the "reset cookie" links the graph must recover.
"""

from __future__ import annotations

import base64
import datetime as dt

import numpy as np

from idgraph.simulator import catalog as cat

N_SITES = len(cat.SITE_IDS)
ITP_DAYS = 7
# Sites whose cookie is written by JavaScript (subject to ITP); the rest set it server-side.
SITE_SCRIPT_COOKIE = np.array([i % 10 < 7 for i in range(N_SITES)])
SITE_FORMAT = tuple(cat.COOKIE_FORMATS[i % len(cat.COOKIE_FORMATS)] for i in range(N_SITES))
REASONS = ("new", "itp_expired", "cleared")


class CookieStore:
    """Every cookie ever issued, plus the live cookie of each (browser, site) seen so far."""

    def __init__(self, browsers: int, rng: np.random.Generator, start: dt.date) -> None:
        self._rng = rng
        self._start = start
        self.values: list[str] = []  # cookie value per cookie id, formatted once
        self._keys = np.zeros(0, dtype=np.int64)  # browser * N_SITES + site, sorted
        self._live = np.zeros(0, dtype=np.int64)  # cookie id per key
        self.browser_cleared = np.full(browsers, -1, dtype=np.int32)
        self.n = 0
        cap = 1024
        self.site = np.zeros(cap, dtype=np.int16)
        self.browser = np.zeros(cap, dtype=np.int64)
        self.first_day = np.zeros(cap, dtype=np.int32)
        self.last_day = np.zeros(cap, dtype=np.int32)
        self.logged_in = np.zeros(cap, dtype=bool)
        self.reason = np.zeros(cap, dtype=np.int8)
        self.token = np.zeros((cap, 2), dtype=np.uint64)
        self.previous = np.zeros(cap, dtype=np.int64)  # the cookie this one replaced, or -1

    def _grow(self, extra: int) -> None:
        need = self.n + extra
        cap = len(self.site)
        if need <= cap:
            return
        new_cap = max(need, cap * 2)
        for name in (
            "site",
            "browser",
            "first_day",
            "last_day",
            "logged_in",
            "reason",
            "token",
            "previous",
        ):
            old = getattr(self, name)
            grown = np.zeros((new_cap, *old.shape[1:]), dtype=old.dtype)
            grown[: self.n] = old[: self.n]
            setattr(self, name, grown)

    def resolve(
        self, browser: np.ndarray, site: np.ndarray, itp: np.ndarray, day: int
    ) -> np.ndarray:
        """The live cookie id of each (browser, site) visit on ``day``, issuing new ones.

        Args:
            browser: browser id per visit.
            site: site id per visit.
            itp: whether each browser applies the 7-day cap.
            day: day index (0 = first simulated day); cookies are reset at the start of a day.
        """
        key = browser.astype(np.int64) * N_SITES + site
        uniq, inverse = np.unique(key, return_inverse=True)
        ub, us = uniq // N_SITES, uniq % N_SITES
        pos = np.searchsorted(self._keys, uniq)
        if len(self._keys):
            pos_ok = np.minimum(pos, len(self._keys) - 1)
            found = self._keys[pos_ok] == uniq
            current = np.where(found, self._live[pos_ok], -1)
        else:
            found = np.zeros(len(uniq), dtype=bool)
            current = np.full(len(uniq), -1, dtype=np.int64)
        cur = np.maximum(current, 0)
        itp_u = np.zeros(len(uniq), dtype=bool)
        itp_u[inverse] = itp
        expired = found & itp_u & SITE_SCRIPT_COOKIE[us] & (day - self.last_day[cur] > ITP_DAYS)
        cleared = found & (self.first_day[cur] < self.browser_cleared[ub])
        fresh = ~found | expired | cleared
        n_new = int(fresh.sum())
        self._grow(n_new)
        ids = np.arange(self.n, self.n + n_new)
        sl = slice(self.n, self.n + n_new)
        self.site[sl] = us[fresh]
        self.browser[sl] = ub[fresh]
        self.first_day[sl] = day
        self.previous[sl] = np.where(found[fresh], current[fresh], -1)
        self.reason[sl] = np.where(cleared[fresh], 2, np.where(expired[fresh], 1, 0))
        self.token[sl] = self._rng.integers(
            0, np.iinfo(np.uint64).max, (n_new, 2), dtype=np.uint64, endpoint=True
        )
        self.values.extend(self._format(c) for c in ids.tolist())
        self.n += n_new
        current[fresh] = ids
        replaced = fresh & found
        self._live[pos[replaced]] = current[replaced]
        inserted = ~found
        if inserted.any():
            keys = np.concatenate([self._keys, uniq[inserted]])
            live = np.concatenate([self._live, current[inserted]])
            order = np.argsort(keys, kind="stable")
            self._keys, self._live = keys[order], live[order]
        self.last_day[current] = day
        return current[inverse]

    def value(self, cookie: int) -> str:
        """The cookie's value as its site wrote it."""
        return self.values[cookie]

    def _format(self, cookie: int) -> str:
        """Render a new cookie's random token in its site's format."""
        epoch = self._start
        site = int(self.site[cookie])
        hi, lo = (int(x) for x in self.token[cookie])
        fmt = SITE_FORMAT[site]
        if fmt == "uuid":
            h = f"{hi:016x}{lo:016x}"
            return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[lo & 3]}{h[17:20]}-{h[20:]}"
        if fmt == "hex32":
            return f"{hi:016X}{lo:016X}"
        if fmt == "ga":
            created = epoch + dt.timedelta(days=int(self.first_day[cookie]))
            seconds = (created - dt.date(1970, 1, 1)).days * 86400
            return f"GA1.2.{hi % 10**10}.{seconds + lo % 86400}"
        if fmt == "b64":
            raw = hi.to_bytes(8, "big") + lo.to_bytes(8, "big")
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if fmt == "num19":
            return str(10**18 + hi % (9 * 10**18))
        return f"{cat.SITE_IDS[site].split('-')[0][:4]}_{hi:016x}"
