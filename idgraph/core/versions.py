"""The Redis version registry: targets, versions, the live pointer, rollback, the publish lock.

Redis only, no Spark: registering, verifying, switching and retiring graph versions, used by
the ``publish`` and ``drain`` stages, ``idgraph rollback`` and ``idgraph publish``. The switch
is one Lua compare-and-set over the ``{ctl}`` keys, atomic on a cluster too. The bulk load of
a version's buckets from Spark is ``spark_jobs.graph.redis_loader``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from idgraph.core import keyspace as ks

log = logging.getLogger(__name__)

_PIPELINE_CHUNK = 5000  # commands per pipeline round trip in driver-side bulk operations


@dataclasses.dataclass(frozen=True)
class RedisTarget:
    """Where to write; picklable so Spark can ship it to executors."""

    url: str
    cluster: bool = False
    socket_timeout_s: float = 30.0

    def client(self) -> Any:
        """A fresh synchronous client (standalone or cluster)."""
        if self.cluster:
            from redis.cluster import RedisCluster

            return RedisCluster.from_url(self.url, socket_timeout=self.socket_timeout_s)
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=self.socket_timeout_s)


def configure_listpack(
    client: Any, *, entries: int, value: int, apply: bool = True
) -> dict[str, int]:
    """Set (where allowed) and read back the listpack limits on every node.

    Managed services refuse ``CONFIG``; there the parameter group must carry the values and
    we only read them (or, when even that is refused, trust the documentation).

    Returns:
        The limits in force (the smallest over the nodes), or the requested ones if unreadable.
    """
    import redis

    kwargs = {"target_nodes": client.ALL_NODES} if hasattr(client, "ALL_NODES") else {}
    try:
        if apply:
            client.config_set("hash-max-listpack-entries", entries, **kwargs)
            client.config_set("hash-max-listpack-value", value, **kwargs)
    except redis.ResponseError as exc:
        log.warning("CONFIG SET refused (%s); relying on the server's configuration", exc)
    try:
        raw = client.config_get("hash-max-listpack-*", **kwargs)
    except redis.ResponseError:
        return {"entries": entries, "value": value}
    nodes = raw.values() if kwargs else [raw]
    return {
        "entries": min(int(n["hash-max-listpack-entries"]) for n in nodes),
        "value": min(int(n["hash-max-listpack-value"]) for n in nodes),
    }


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _run_per_key(client: Any, command: str, keys: Iterable[bytes], *args: Any) -> list[Any]:
    """Run a single-key command for every key, pipelined (cluster-safe: no multi-key calls)."""
    results: list[Any] = []
    for chunk in _chunks(keys, _PIPELINE_CHUNK):
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.execute_command(command, key, *args)
        results.extend(pipe.execute())
    return results


def count_fields(client: Any, version: ks.GraphVersion) -> int:
    """Cookies stored in ``version``: the sum of ``HLEN`` over its cookie buckets."""
    keys = (ks.cookie_key(version.name, b) for b in range(version.buckets))
    return sum(int(n) for n in _run_per_key(client, "HLEN", keys))


def delete_version(client: Any, version: ks.GraphVersion) -> int:
    """Remove every key of ``version`` and its registry entry (a failed or stale load).

    Returns:
        Keys that existed and were removed.
    """
    removed = sum(int(n) for n in _run_per_key(client, "UNLINK", version.keys()))
    client.hdel(ks.VERSIONS_KEY, version.name)
    return removed


def expire_version(client: Any, version: ks.GraphVersion, ttl_s: int) -> None:
    """Let ``version``'s keys expire in ``ttl_s`` seconds (readers still on it finish first)."""
    _run_per_key(client, "EXPIRE", version.keys(), ttl_s)
    client.hdel(ks.VERSIONS_KEY, version.name)


def read_live(client: Any) -> tuple[ks.GraphVersion | None, ks.GraphVersion | None, bytes | None]:
    """(live, previous, raw pointer value) as stored now."""
    raw = client.get(ks.LIVE_KEY)
    live, previous = ks.decode_live(raw)
    return live, previous, raw


def registered_versions(client: Any) -> list[ks.GraphVersion]:
    """Every version in the registry (loading, live, previous)."""
    return [ks.decode_version(v) for v in client.hgetall(ks.VERSIONS_KEY).values()]


# KEYS[1] live pointer, KEYS[2] registry, KEYS[3] (optional) publish lock. ARGV: lock value
# the publisher holds ('' without KEYS[3]), expected pointer ('' = none), new pointer, then
# name/json pairs to HSET, then '--', then names to HDEL. Returns 1, 0 (pointer moved) or
# -1 (the publish lock is no longer the caller's).
_SWITCH_LUA = """
if #KEYS == 3 and redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[3])
local i = 4
while ARGV[i] ~= '--' do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for j = i + 1, #ARGV do redis.call('HDEL', KEYS[2], ARGV[j]) end
return 1
"""


def switch_live(
    client: Any,
    *,
    expected: bytes | None,
    live: ks.GraphVersion,
    previous: ks.GraphVersion | None,
    drop: Sequence[str] = (),
    lock: PublishLease | None = None,
) -> bool:
    """Atomically point readers at ``live`` if the pointer still equals ``expected``.

    Args:
        lock: the publisher's lease; the switch happens only while the lock is still its own.

    Returns:
        False when another publisher or rollback changed the pointer meanwhile.

    Raises:
        LockLost: ``lock`` expired or was broken before the switch (nothing changed).
    """
    updates: list[bytes | str] = [live.name, ks.encode_version(live)]
    if previous is not None:
        updates += [previous.name, ks.encode_version(previous)]
    keys = [ks.LIVE_KEY, ks.VERSIONS_KEY] + ([ks.LOCK_KEY] if lock is not None else [])
    pointer = ks.encode_live(live, previous)
    argv = [lock.value if lock else "", expected or b"", pointer, *updates, "--", *drop]
    done = int(client.eval(_SWITCH_LUA, len(keys), *keys, *argv))
    if done < 0:
        raise LockLost("lost the publish lock before the switch; the live version is unchanged")
    return bool(done)


def rollback(client: Any, *, retired_ttl_s: int) -> tuple[ks.GraphVersion, ks.GraphVersion]:
    """Make the previous version live again; the rolled-back one expires.

    Returns:
        (now live, rolled back).

    Raises:
        RuntimeError: when there is nothing to roll back to.
    """
    live, previous, raw = read_live(client)
    if live is None or previous is None:
        raise RuntimeError("no previous graph version to roll back to")
    restored = dataclasses.replace(previous, status="live")
    if not switch_live(client, expected=raw, live=restored, previous=None, drop=[live.name]):
        raise RuntimeError("the live version changed during the rollback; try again")
    expire_version(client, live, retired_ttl_s)
    return restored, dataclasses.replace(live, status="retired")


# ------------------------------------------------------------------------ publish lock
#
# One publisher at a time. The lock's value names its holder; its TTL is short
# (``redis.publish_lock_ttl_s``) and a heartbeat thread renews it while the publish runs,
# so a publisher that dies (SIGKILL, lost node) frees the lock within one TTL. The live
# pointer only moves while the lock is still ours (``switch_live(lock=...)``).

_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LockHeld(RuntimeError):
    """Another publisher holds the publish lock; the message is one line naming it."""


class LockLost(RuntimeError):
    """This publisher's lock expired or was broken while it ran."""


@dataclasses.dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) the publish lock, decoded from its value."""

    owner: str
    since: float | None
    day: str
    ttl_ms: int
    stage: str = "publish"

    @classmethod
    def decode(cls, raw: bytes | str, ttl_ms: int) -> LockHolder:
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        try:
            doc = json.loads(text)
            return cls(
                str(doc["owner"]),
                float(doc["since"]),
                str(doc.get("day", "?")),
                ttl_ms,
                str(doc.get("stage", "publish")),
            )
        except (ValueError, KeyError, TypeError):
            try:  # the lock of older releases: a bare time.time() token
                return cls("unknown (older release)", float(text), "?", ttl_ms)
            except ValueError:
                return cls(f"unknown ({text[:40]!r})", None, "?", ttl_ms)

    def describe(self, now: float | None = None) -> str:
        """``host:pid (publish of D) for 2m05s, expires in 41s unless renewed``."""
        age = "an unknown time"
        if self.since is not None:
            age = _duration((now if now is not None else time.time()) - self.since)
        if self.ttl_ms < 0:
            expiry = "with no expiry"
        else:
            expiry = f"expires in {_duration(self.ttl_ms / 1000)} unless renewed"
        return f"{self.owner} ({self.stage} of {self.day}) for {age}, {expiry}"


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def lock_holder(client: Any) -> LockHolder | None:
    """The current holder of the publish lock, or None when it is free."""
    pipe = client.pipeline(transaction=False)
    pipe.get(ks.LOCK_KEY)
    pipe.pttl(ks.LOCK_KEY)
    raw, ttl_ms = pipe.execute()
    return None if raw is None else LockHolder.decode(raw, int(ttl_ms))


def ensure_lock_free(client: Any) -> None:
    """Fail fast (before any Spark work) when another publisher holds the lock.

    Raises:
        LockHeld: one line naming the holder, its age and when its lock expires.
    """
    holder = lock_holder(client)
    if holder is not None:
        raise LockHeld(
            f"another publish holds the publish lock: {holder.describe()}; a crashed "
            "publisher's lock expires by itself, `idgraph publish --break-lock` removes it now"
        )


def break_lock(client: Any) -> LockHolder | None:
    """Remove the publish lock whoever holds it (operators: ``idgraph publish --break-lock``).

    A live holder notices at its next heartbeat and gives up before switching.

    Returns:
        Who held it, or None when it was free.
    """
    holder = lock_holder(client)
    client.delete(ks.LOCK_KEY)
    return holder


class PublishLease:
    """The publish lock held by this process, renewed by a heartbeat thread.

    Args:
        target: the Redis server or cluster.
        ttl_s: lock TTL; the heartbeat renews it every third of that.
        day: the graph's day (shown to whoever finds the lock held).
        stage: the stage holding it (``publish`` or ``drain``; shown the same way).
        on_lost: called once, from the heartbeat thread, if the lock is lost (e.g. to cancel
            the Spark jobs still writing).
    """

    def __init__(
        self,
        target: RedisTarget,
        *,
        ttl_s: float,
        day: str,
        stage: str = "publish",
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.value = json.dumps(
            {
                "token": uuid.uuid4().hex,
                "owner": f"{socket.gethostname()}:{os.getpid()}",
                "since": round(time.time(), 3),
                "day": day,
                "stage": stage,
            },
            separators=(",", ":"),
        )
        interval = self.ttl_ms / 3000
        self._client = dataclasses.replace(target, socket_timeout_s=max(0.5, interval)).client()
        self._interval = interval
        self._on_lost = on_lost
        self._stop = threading.Event()
        self._lost: str | None = None
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the lock and start the heartbeat.

        Raises:
            LockHeld: another publisher holds it (one line naming it and its age).
        """
        if not self._client.set(ks.LOCK_KEY, self.value, nx=True, px=self.ttl_ms):
            ensure_lock_free(self._client)
            raise LockHeld("another publish took the publish lock just now")
        self._thread = threading.Thread(target=self._beat, name="publish-lock", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.wait(self._interval):
            try:
                renewed = self._client.eval(_RENEW_LUA, 1, ks.LOCK_KEY, self.value, self.ttl_ms)
            except Exception as exc:  # noqa: BLE001 - Redis hiccup: retry until the TTL is gone
                if time.monotonic() - last_ok < self.ttl_ms / 1000:
                    log.warning("publish lock heartbeat failed (%s); retrying", exc)
                    continue
                renewed, why = 0, f"heartbeat failing for a whole TTL ({exc})"
            else:
                why = "expired or broken by another process"
            if renewed:
                last_ok = time.monotonic()
                continue
            self._lost = why
            log.error("lost the publish lock (%s); this publish will not go live", why)
            if self._on_lost is not None:
                self._on_lost()
            return

    @property
    def lost(self) -> str | None:
        """Why the heartbeat found the lock gone, or None while it is held."""
        return self._lost

    def check(self) -> None:
        """Raise ``LockLost`` if the heartbeat found the lock gone."""
        if self._lost is not None:
            raise LockLost(f"lost the publish lock: {self._lost}")

    def release(self) -> None:
        """Stop the heartbeat and delete the lock if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval + 1)
        try:
            self._client.eval(_RELEASE_LUA, 1, ks.LOCK_KEY, self.value)
        finally:
            self._client.close()


@contextlib.contextmanager
def publish_lock(
    target: RedisTarget,
    *,
    ttl_s: float,
    day: str,
    stage: str = "publish",
    on_lost: Callable[[], None] | None = None,
) -> Iterator[PublishLease]:
    """Hold the publish lock (with its heartbeat) for the ``with`` block."""
    lease = PublishLease(target, ttl_s=ttl_s, day=day, stage=stage, on_lost=on_lost)
    try:
        lease.acquire()
    except BaseException:
        lease._client.close()
        raise
    try:
        yield lease
    finally:
        lease.release()


def read_back(client: Any, version: ks.GraphVersion, sample: Iterable[Any]) -> list[str]:
    """Compare a sample of graph rows with what the lookup path reads; return mismatches."""
    rows = list(sample)
    pipe = client.pipeline(transaction=False)
    for row in rows:
        pipe.hget(*ks.cookie_location(version, row["site_id"], row["cookie_id"]))
    problems = []
    for row, raw in zip(rows, pipe.execute(), strict=True):
        household = row.asDict().get("household_id")
        conf = round(ks.quantize_confidence(row["confidence"]) / 255, 3)
        expected = (row["unified_id"], conf, household)
        got = ks.decode_cookie(raw) if raw is not None else None
        if got != expected:
            problems.append(f"{row['site_id']}/{row['cookie_id']}: {got} != {expected}")
    return problems
