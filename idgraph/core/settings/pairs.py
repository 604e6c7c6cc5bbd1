"""Candidate generation and pair scoring."""

from __future__ import annotations

from pydantic import Field, field_validator

from idgraph.core.settings.base import IdgraphSettings, settings_config

BLOCKING_KEY_NAMES = ("ip", "ip_hour", "ip_day", "ip6_prefix", "prefix_ua", "prefix_term")


class PairSettings(IdgraphSettings):
    """Candidate/scoring settings (env ``IDGRAPH_PAIRS_*``)."""

    model_config = settings_config("PAIRS_")

    max_block_size: int = Field(default=150, ge=2)
    """Blocks with more cookies than this are skipped (and counted), never expanded. Over the
    30-day window a household's home IP gathers every cookie of its people (sites x browsers,
    resets included): at 50, 2,000 people x 28 days skipped 205 home-IP blocks and kept 0.869
    of the true pairs sharing an IP; at 150, 0.915 at 23 pairs per cookie. Offices and carrier
    pools stay far above it. ``max_pairs_per_cookie`` keeps the output linear either way."""

    block_size_overrides: dict[str, int] = Field(default_factory=dict)
    """Per blocking key, a cap replacing ``max_block_size`` (e.g. ``{"ip_hour": 30}``)."""

    blocking_keys: list[str] = Field(default_factory=lambda: list(BLOCKING_KEY_NAMES))
    """Blocking keys in use: ``ip`` (same IP hash), ``ip_hour`` / ``ip_day`` (same IP in the
    same hour / UTC day), ``ip6_prefix`` (same IPv6 /48, a home's delegated prefix),
    ``prefix_ua`` (same IP prefix and browser/OS/device), ``prefix_term`` (same IP prefix and
    a shared query term). The login hash is never a blocking key: it is the label."""

    max_pairs_per_cookie: int = Field(default=40, ge=1)
    """Each cookie keeps its strongest pairs up to this many (a pair survives when either of
    its cookies keeps it), so the table holds at most this many pairs per cookie on average
    (one cookie chosen by many others may have more). A person has ~30 cookies (sites x
    browsers): 20 lost 3% of the true pairs on the simulator, 40 keeps 99% at ~9 pairs per
    cookie."""

    term_block_prefixes: int = Field(default=3, ge=1)
    """``prefix_term``: a cookie's busiest IP prefixes that take part."""

    term_block_terms: int = Field(default=10, ge=1)
    """``prefix_term``: a cookie's top query terms that take part."""

    co_activity_hours: int = Field(default=1, ge=0)
    """Pair feature ``co_hours_near``: same IP within this many hours of each other."""

    site_pair_buckets: int = Field(default=64, ge=1)
    """Pair feature ``site_pair_bucket``: hashed buckets of the (unordered) pair of sites."""

    session_evidence: bool = True
    """Compute session hops and quiet-IP co-presence from the window's visits
    (``spark_jobs/pair_scoring/session_evidence.py``): they become pair features, and pairs
    with such evidence are always candidates (blocking key ``session``)."""

    session_max_gap_seconds: int = Field(default=300, ge=1, le=3600)
    """A hop: one cookie's event followed by another cookie's at the same IP with the same
    exact user agent within this many seconds (hops are also counted at 30 s and 120 s)."""

    quiet_ip_max_user_agents: int = Field(default=6, ge=1)
    """An IP seen on a day with at most this many distinct user agents is quiet (a home: a
    few devices and browsers); hops on it count as ``quiet_hops_300s`` and its cookies as
    co-present. A carrier's CGNAT address or an office shows dozens to hundreds."""

    session_max_cookies_per_ip_day: int = Field(default=60, ge=2)
    """A quiet IP-day with more cookies than this is skipped for co-presence (and counted),
    never expanded: its pairs would grow with the square of its cookies."""

    @field_validator("blocking_keys")
    @classmethod
    def _known_keys(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(BLOCKING_KEY_NAMES))
        if unknown or not value:
            raise ValueError(f"blocking_keys must be a non-empty subset of {BLOCKING_KEY_NAMES}")
        return value

    @field_validator("block_size_overrides")
    @classmethod
    def _known_overrides(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(BLOCKING_KEY_NAMES))
        if unknown:
            raise ValueError(f"unknown blocking key(s) {unknown}; known: {BLOCKING_KEY_NAMES}")
        if any(v < 2 for v in value.values()):
            raise ValueError("block size caps must be at least 2")
        return value
