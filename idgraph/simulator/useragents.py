"""User-agent strings that real parsers recognise, and how they change as browsers update.

A browser is one of a few *kinds* (OS + browser + device form). Its major version on a day
follows the vendor's release calendar shifted by the browser's own update lag, so the same
browser shows a new UA string a few days after each release, and two people on the same
phone model and OS usually send byte-identical UAs (which is what makes "same IP + same UA"
a poor identity rule).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import numpy as np

from idgraph.simulator.catalog import ANDROID_MODELS, RELEASES, SAFARI_MAJORS


class BrowserKind(NamedTuple):
    """One OS/browser/form combination."""

    os: str
    browser: str
    device_type: str
    calendar: str  # "Chrome", "Edge", "Firefox", "Samsung Internet" or "Safari"
    itp: bool  # WebKit engine: script-written cookies capped at 7 days (Safari ITP)


KINDS: tuple[BrowserKind, ...] = (
    BrowserKind("Windows", "Chrome", "desktop", "Chrome", False),  # 0
    BrowserKind("Windows", "Edge", "desktop", "Edge", False),  # 1
    BrowserKind("Windows", "Firefox", "desktop", "Firefox", False),  # 2
    BrowserKind("macOS", "Chrome", "desktop", "Chrome", False),  # 3
    BrowserKind("macOS", "Safari", "desktop", "Safari", True),  # 4
    BrowserKind("macOS", "Firefox", "desktop", "Firefox", False),  # 5
    BrowserKind("iOS", "Safari", "phone", "Safari", True),  # 6
    BrowserKind("iOS", "Chrome iOS", "phone", "Chrome", True),  # 7
    BrowserKind("iOS", "Firefox iOS", "phone", "Firefox", True),  # 8
    BrowserKind("Android", "Chrome", "phone", "Chrome", False),  # 9
    BrowserKind("Android", "Samsung Internet", "phone", "Samsung Internet", False),  # 10
    BrowserKind("Android", "Firefox", "phone", "Firefox", False),  # 11
    BrowserKind("iPadOS", "Safari", "tablet", "Safari", True),  # 12 (desktop-class UA)
    BrowserKind("Android", "Chrome", "tablet", "Chrome", False),  # 13
)

# Browser kinds offered per (OS, device form) with their market shares.
KIND_CHOICES: dict[str, tuple[tuple[int, ...], tuple[float, ...]]] = {
    "windows": ((0, 1, 2), (0.62, 0.27, 0.11)),
    "macos": ((4, 3, 5), (0.50, 0.42, 0.08)),
    "ios": ((6, 7, 8), (0.82, 0.14, 0.04)),
    "android": ((9, 10, 11), (0.66, 0.26, 0.08)),
    "ipad": ((12,), (1.0,)),
    "android_tablet": ((13,), (1.0,)),
}

_SAFARI_DAYS = np.array([d.toordinal() for d, _ in SAFARI_MAJORS], dtype=np.int64)
_SAFARI_MAJOR = np.array([m for _, m in SAFARI_MAJORS], dtype=np.int64)
_CALENDAR_CODE = {"Chrome": 0, "Edge": 1, "Firefox": 2, "Samsung Internet": 3, "Safari": 4}
KIND_CALENDAR = np.array([_CALENDAR_CODE[k.calendar] for k in KINDS], dtype=np.int8)
KIND_ITP = np.array([k.itp for k in KINDS], dtype=bool)


def _calendar_major(name: str, ordinal: np.ndarray) -> np.ndarray:
    anchor, major, period = RELEASES[name]
    return major + np.floor_divide(ordinal - anchor.toordinal(), period)


def version_codes(kind: np.ndarray, lag_days: np.ndarray, day: dt.date) -> np.ndarray:
    """Version code of each browser on ``day``: major*100 + minor (minor used by Safari only).

    Args:
        kind: browser kind index per browser.
        lag_days: days each browser waits before installing an update.
        day: the simulated day.
    """
    seen = day.toordinal() - lag_days.astype(np.int64)
    out = np.zeros(len(kind), dtype=np.int64)
    cal = KIND_CALENDAR[kind]
    for name, code in _CALENDAR_CODE.items():
        mask = cal == code
        if not mask.any():
            continue
        if name == "Safari":
            idx = np.searchsorted(_SAFARI_DAYS, seen[mask], side="right") - 1
            idx = np.clip(idx, 0, len(_SAFARI_DAYS) - 1)
            minor = np.clip((seen[mask] - _SAFARI_DAYS[idx]) // 45, 0, 6)
            out[mask] = _SAFARI_MAJOR[idx] * 100 + minor
        else:
            out[mask] = _calendar_major(name, seen[mask]) * 100
    return out


def _ios_token(major: int, minor: int) -> str:
    # From iOS 26 Safari freezes the OS token in the UA at 18_6.
    return "18_6" if major >= 26 else f"{major}_{minor}"


def render(kind: int, version: int, variant: int, day: dt.date) -> str:
    """The UA string of a browser of ``kind`` at ``version`` on a device ``variant``.

    Args:
        kind: index into ``KINDS``.
        version: code from ``version_codes``.
        variant: device detail (Android version and phone model), stable per device.
        day: the day, for the Chrome build embedded in iOS browsers' UAs.
    """
    major, minor = divmod(int(version), 100)
    chrome = int(_calendar_major("Chrome", np.array([day.toordinal() - 7]))[0])
    android = 12 + variant % 4
    model = ANDROID_MODELS[variant % len(ANDROID_MODELS)]
    ios = int(np.searchsorted(_SAFARI_DAYS, day.toordinal(), side="right") - 1)
    ios_major = int(_SAFARI_MAJOR[max(ios, 0)])
    webkit_desktop = "AppleWebKit/537.36 (KHTML, like Gecko)"
    if kind in (0, 1):
        base = (
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {webkit_desktop} "
            f"Chrome/{major}.0.0.0 Safari/537.36"
        )
        return base + (f" Edg/{major}.0.0.0" if kind == 1 else "")
    if kind == 2:
        return (
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{major}.0) "
            f"Gecko/20100101 Firefox/{major}.0"
        )
    if kind == 3:
        return (
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {webkit_desktop} "
            f"Chrome/{major}.0.0.0 Safari/537.36"
        )
    if kind in (4, 12):
        return (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/{major}.{minor} Safari/605.1.15"
        )
    if kind == 5:
        return (
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{major}.0) "
            f"Gecko/20100101 Firefox/{major}.0"
        )
    if kind == 6:
        return (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {_ios_token(major, minor)} like Mac OS X) "
            f"AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{major}.{minor} "
            "Mobile/15E148 Safari/604.1"
        )
    if kind == 7:
        return (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {_ios_token(ios_major, 0)} like Mac OS X) "
            f"AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/{major}.0.6778.{100 + variant} "
            "Mobile/15E148 Safari/604.1"
        )
    if kind == 8:
        return (
            f"Mozilla/5.0 (iPhone; CPU iPhone OS {_ios_token(ios_major, 0)} like Mac OS X) "
            f"AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/{major}.0 "
            "Mobile/15E148 Safari/605.1.15"
        )
    if kind == 9:
        return (
            f"Mozilla/5.0 (Linux; Android 10; K) {webkit_desktop} "
            f"Chrome/{major}.0.0.0 Mobile Safari/537.36"
        )
    if kind == 10:
        return (
            f"Mozilla/5.0 (Linux; Android {android}; SAMSUNG {model}) {webkit_desktop} "
            f"SamsungBrowser/{major}.0 Chrome/{chrome - 4}.0.0.0 Mobile Safari/537.36"
        )
    if kind == 11:
        return (
            f"Mozilla/5.0 (Android {android}; Mobile; rv:{major}.0) "
            f"Gecko/{major}.0 Firefox/{major}.0"
        )
    if kind == 13:
        return (
            f"Mozilla/5.0 (Linux; Android 10; K) {webkit_desktop} "
            f"Chrome/{major}.0.0.0 Safari/537.36"
        )
    raise ValueError(f"unknown browser kind {kind}")
