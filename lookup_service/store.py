"""The service's view of the published graph in Redis: fail-fast lookups, opt-outs, feedback.

Every Redis call runs under a deadline (``request_timeout_ms``) with millisecond socket
timeouts, at most one retry, and behind a circuit breaker, so an unreachable Redis costs a
lookup milliseconds, not redis-py's default 10 s x 3 retries. A background task re-reads
the live-version pointer every ``version_poll_ms``; each request uses the one version it
starts with, and old versions stay in Redis (for rollback, then until they expire) long
after the pointer moves, so a request never mixes or misses versions.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from redis import asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

from idgraph.core import keyspace as ks
from idgraph.core import optout_rule
from idgraph.core.settings import RedisSettings
from lookup_service.breaker import CircuitBreaker

Found = tuple[str, float, str | None]
"""A known cookie: (unified_id, confidence, household_id or None)."""

log = logging.getLogger(__name__)
T = TypeVar("T")


class StoreUnavailable(RuntimeError):
    """Redis is down, slow, or no graph has been published: answer 503."""


def connect(settings: RedisSettings) -> Any:
    """An asyncio client (standalone pool or cluster) with fail-fast timeouts."""
    if not settings.url:
        raise ValueError("redis.url is not set (idgraph serve starts the embedded server)")
    common: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout_ms / 1000,
        "socket_connect_timeout": settings.connect_timeout_ms / 1000,
        # Retry only on a broken connection (a stale pooled socket after a restart); a
        # timeout retried is just a second timeout.
        "retry": Retry(NoBackoff(), settings.retries, supported_errors=(RedisConnectionError,)),
    }
    if settings.cluster:
        from redis.asyncio.cluster import RedisCluster

        return RedisCluster.from_url(
            settings.url, max_connections=settings.max_connections, **common
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.url,
        max_connections=settings.max_connections,
        timeout=settings.request_timeout_ms / 1000,
        **common,
    )
    return aioredis.Redis(connection_pool=pool)


class GraphStore:
    """Lookups and opt-outs against the live graph version."""

    CLOSE_TIMEOUT_S = 2.0

    def __init__(self, client: Any, settings: RedisSettings) -> None:
        self.client = client
        self.settings = settings
        self.deadline_s = settings.request_timeout_ms / 1000
        self.breaker = CircuitBreaker(
            failures=settings.breaker_failures, reset_s=settings.breaker_reset_ms / 1000
        )
        self.live: ks.GraphVersion | None = None
        self.previous: ks.GraphVersion | None = None
        self._follower: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ plumbing

    async def _call(self, awaitable: Awaitable[T]) -> T:
        if not self.breaker.allow():
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise StoreUnavailable("redis unavailable (circuit open)")
        try:
            async with asyncio.timeout(self.deadline_s):  # no extra task, unlike wait_for
                result = await awaitable
        except (RedisError, OSError, TimeoutError) as exc:
            self.breaker.failure()
            raise StoreUnavailable(f"redis unavailable ({type(exc).__name__})") from exc
        self.breaker.success()
        return result

    def _version(self) -> ks.GraphVersion:
        if self.live is None:
            raise StoreUnavailable("no graph version published yet")
        return self.live

    async def refresh(self) -> None:
        """Re-read the live pointer (also a health probe that can close the breaker)."""
        raw = await asyncio.wait_for(self.client.get(ks.LIVE_KEY), self.deadline_s * 5)
        self.live, self.previous = ks.decode_live(raw)

    async def _follow(self) -> None:
        interval = self.settings.version_poll_ms / 1000
        while True:
            try:
                await self.refresh()
                self.breaker.success()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep following whatever went wrong
                self.breaker.failure()
                log.debug("live pointer refresh failed: %s", exc)
            await asyncio.sleep(interval)

    async def start(self) -> None:
        """Read the pointer once (best effort) and start following it."""
        with contextlib.suppress(Exception):
            await self.refresh()
        self._follower = asyncio.create_task(self._follow())

    async def close(self) -> None:
        """Stop following and close the connections, in bounded time whatever Redis does.

        A cluster client caught mid-failover can take arbitrarily long to give up (or to
        finish a topology refresh it holds a lock for); shutdown must not wait on it.
        ``asyncio.wait`` bounds the wait without waiting for a cancellation to be honoured,
        unlike ``wait_for``.
        """
        pending: list[asyncio.Future[Any]] = []
        if self._follower is not None:
            self._follower.cancel()
            pending.append(self._follower)
        close = getattr(self.client, "aclose", None) or self.client.close
        pending.append(asyncio.ensure_future(close()))
        _done, late = await asyncio.wait(pending, timeout=self.CLOSE_TIMEOUT_S)
        for task in late:
            task.cancel()
            log.warning("redis client did not close within %.1f s; abandoned", self.CLOSE_TIMEOUT_S)

    # ------------------------------------------------------------------ reads

    async def ping(self) -> bool:
        """True when Redis answers within the deadline."""
        try:
            return bool(await self._call(self.client.ping()))
        except StoreUnavailable:
            return False

    async def lookup(self, site_id: str, cookie_id: str) -> tuple[str, Found | None]:
        """(version, (unified_id, confidence, household_id) or None when the cookie is
        unknown); household_id is None in a version published before households."""
        version = self._version()
        raw = await self._call(self.client.hget(*ks.cookie_location(version, site_id, cookie_id)))
        return version.name, ks.decode_cookie(raw) if raw is not None else None

    async def lookup_many(
        self, cookies: Sequence[tuple[str, str]]
    ) -> tuple[str, list[Found | None]]:
        """Batch lookup in one pipelined round trip: one ``HMGET`` per distinct bucket."""
        version = self._version()
        by_key: dict[bytes, list[tuple[int, bytes]]] = {}
        for i, (site_id, cookie_id) in enumerate(cookies):
            key, field = ks.cookie_location(version, site_id, cookie_id)
            by_key.setdefault(key, []).append((i, field))

        async def run() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for key, items in by_key.items():
                pipe.hmget(key, [f for _, f in items])
            return list(await pipe.execute())

        replies = await self._call(run())
        results: list[Found | None] = [None] * len(cookies)
        for items, values in zip(by_key.values(), replies, strict=True):
            for (i, _), raw in zip(items, values, strict=True):
                results[i] = ks.decode_cookie(raw) if raw is not None else None
        return version.name, results

    # ------------------------------------------------------------------ opt-out

    async def optout(self, *, site_id: str = "", cookie_id: str = "", login_hash: str = "") -> int:
        """Record an opt-out durably, then delete its people from every present version.

        The person of the cookie (or of each cookie seen with the login hash) goes: every
        cookie of its unified id, by ``idgraph.core.optout_rule``. The stream entry is written
        first: once it is acknowledged, the next publish applies it even if the deletes
        below are interrupted. Deleting from the previous version too
        keeps a rollback from bringing the cookies back; deleting from a version being
        loaded closes the window before its switch.

        Returns:
            Cookies removed from the live version.
        """
        kind = "login_hash" if login_hash else "cookie"
        entry = ks.optout_entry(
            kind=kind,
            site_id=site_id,
            cookie_id=cookie_id,
            login_hash=login_hash,
            requested_at=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        )
        await self._call(self.client.xadd(ks.OPTOUTS_KEY, entry))
        registry = await self._call(self.client.hgetall(ks.VERSIONS_KEY))
        versions = {v.name: v for v in map(ks.decode_version, registry.values())}
        for known in (self.live, self.previous):
            if known is not None:
                versions.setdefault(known.name, known)
        removed = 0
        for version in versions.values():
            n = await self._call(optout_rule.remove_async(self.client, version, [entry]))
            if self.live is not None and version.name == self.live.name:
                removed = n
        return removed

    # ------------------------------------------------------------------ feedback

    async def record_feedback(self, entry: dict[str, str]) -> bytes:
        """Append a verdict to the feedback stream; once this returns, the verdict is durable
        (as durable as the stream: AOF on the embedded server, replicated on ElastiCache) and
        the next publish drains it into the lake.

        Returns:
            The stream entry id.
        """
        entry_id: bytes = await self._call(self.client.xadd(ks.FEEDBACK_KEY, entry))
        return entry_id

    async def feedback_allowed(self, key_id: str, *, limit: int, window_s: int) -> int | None:
        """Count one feedback request of ``key_id`` in the current fixed window.

        The counter lives in Redis, so the limit holds across workers and replicas. Its key
        names the window, so it never needs resetting; it expires two windows later.

        Returns:
            None when the request is within the limit, else the seconds until the window ends.
        """
        now = time.time()
        window = int(now // window_s)
        key = ks.feedback_rate_key(key_id, window)

        async def count() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 2 * window_s)
            return list(await pipe.execute())

        used = int((await self._call(count()))[0])
        if used <= limit:
            return None
        return max(1, math.ceil((window + 1) * window_s - now))
