"""The opt-out deletion rule, written once for the lookup service and the publish stage.

An opt-out removes people, not single cookies. In one graph version:

1. the named cookies are the cookie of a cookie opt-out, or every cookie the login index
   holds for a login-hash opt-out;
2. each named cookie still present gives its unified id (its value in the cookie bucket);
3. the person index gives every cookie of each of those unified ids;
4. all of them (named cookies and their people's cookies) are deleted with ``HDEL``.

``removal`` is the rule itself, free of I/O: a generator that yields the ``(key, field)``
pairs it needs read (``HGET``, one pipeline per round), is sent the replies, and returns the
``(key, field)`` pairs to delete. ``remove_sync`` (redis-py, used by the publish stage) and
``remove_async`` (redis.asyncio, used by the lookup service) run it against a client, so the
two cannot drift apart. Pure Python: the service imports it without pyspark.

Not one transaction: cookie buckets spread over every cluster slot, so no script or
``MULTI`` can hold them all. Each ``HDEL`` is atomic, deleting is idempotent, and the opt-out
is already durable in the stream before this runs, so an interrupted removal is completed by
a retry or by the next publish.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from typing import Any

from idgraph.core import keyspace as ks

Locations = list[tuple[bytes, bytes]]
"""``(key, field)`` pairs: reads to ``HGET`` in one round, or deletes."""
Removal = Generator[Locations, list[Any], Locations]


def removal(version: ks.GraphVersion, entries: Iterable[Mapping[str, str]]) -> Removal:
    """The rule: yields rounds of reads, is sent their replies, returns what to delete.

    Args:
        version: the graph version to delete from.
        entries: opt-out stream entries (``keyspace.optout_entry``).

    Returns:
        (as the generator's value) every cookie location of the opted-out people, sorted.
    """
    named: set[bytes] = set()
    logins: Locations = []
    for entry in entries:
        if entry["kind"] == "cookie":
            named.add(ks.cookie_digest(entry["site_id"], entry["cookie_id"]))
        else:
            location = ks.login_location(version, entry["login_hash"])
            if location is not None:
                logins.append(location)
    if logins:
        for raw in (yield logins):
            named.update(ks.decode_digests(raw or b""))
    cookies = set(named)
    if named and version.person_buckets > 0:
        ordered = sorted(named)
        values = yield [ks.digest_location(version, d) for d in ordered]
        people = sorted({ks.decode_value(raw)[0] for raw in values if raw is not None})
        where = [ks.person_location(version, uid) for uid in people]
        reads = [loc for loc in where if loc is not None]
        if reads:
            for raw in (yield reads):
                cookies.update(ks.decode_digests(raw or b""))
    return [ks.digest_location(version, d) for d in sorted(cookies)]


def _grouped(deletes: Locations) -> dict[bytes, list[bytes]]:
    by_key: dict[bytes, list[bytes]] = {}
    for key, field in deletes:
        by_key.setdefault(key, []).append(field)
    return by_key


Pipelines = Generator[Any, list[Any], int]
"""Pipelines to execute, one at a time: each is sent its replies; returns the cookies deleted."""


def _pipelines(client: Any, plan: Removal) -> Pipelines:
    """``plan``'s reads and its deletes as pipelines of ``client``, sync or asyncio alike."""
    try:
        reads = next(plan)
        while True:
            pipe = client.pipeline(transaction=False)
            for key, field in reads:
                pipe.hget(key, field)
            reads = plan.send(list((yield pipe)))
    except StopIteration as done:
        deletes: Locations = done.value
    if not deletes:
        return 0
    pipe = client.pipeline(transaction=False)
    for key, fields in _grouped(deletes).items():
        pipe.hdel(key, *fields)
    return sum(int(n) for n in (yield pipe))


def remove_sync(client: Any, version: ks.GraphVersion, entries: Iterable[Mapping[str, str]]) -> int:
    """Apply ``removal`` with a synchronous client; return how many cookies were deleted."""
    pipelines = _pipelines(client, removal(version, entries))
    try:
        pipe = next(pipelines)
        while True:
            pipe = pipelines.send(pipe.execute())
    except StopIteration as done:
        return int(done.value)


async def remove_async(
    client: Any, version: ks.GraphVersion, entries: Iterable[Mapping[str, str]]
) -> int:
    """Apply ``removal`` with an asyncio client; return how many cookies were deleted."""
    pipelines = _pipelines(client, removal(version, entries))
    try:
        pipe = next(pipelines)
        while True:
            pipe = pipelines.send(await pipe.execute())
    except StopIteration as done:
        return int(done.value)
