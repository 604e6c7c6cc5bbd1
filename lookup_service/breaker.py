"""A small circuit breaker: after repeated Redis failures, fail at once instead of waiting.

Closed: calls pass. ``failures`` consecutive failures open it: calls are refused for
``reset_s``, then one trial call may pass (half-open); its success closes the breaker, its
failure opens it again. The version follower's periodic read also counts, so the breaker
closes on its own when Redis returns, without a lookup having to risk it.
"""

from __future__ import annotations

import time


class CircuitBreaker:
    """Consecutive-failure breaker with a timed half-open trial."""

    def __init__(self, *, failures: int, reset_s: float) -> None:
        self.failures = failures
        self.reset_s = reset_s
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_at: float | None = None

    @property
    def is_open(self) -> bool:
        """True while calls are being refused (ignoring a possible half-open trial)."""
        return self._opened_at is not None

    def allow(self) -> bool:
        """May a call go to Redis now?"""
        if self._opened_at is None:
            return True
        now = time.monotonic()
        if now - self._opened_at < self.reset_s:
            return False
        if self._trial_at is not None and now - self._trial_at < self.reset_s:
            return False  # one trial at a time
        self._trial_at = now
        return True

    def success(self) -> None:
        """Record a successful call: the breaker closes."""
        self._consecutive = 0
        self._opened_at = None
        self._trial_at = None

    def failure(self) -> None:
        """Record a failed call: may open (or re-open) the breaker."""
        self._consecutive += 1
        if self._opened_at is not None or self._consecutive >= self.failures:
            self._opened_at = time.monotonic()
            self._trial_at = None
