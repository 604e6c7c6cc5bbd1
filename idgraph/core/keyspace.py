"""The Redis keyspace of the identity graph: keys, fields and values, byte for byte.

One module, imported by the Spark loader and the lookup service alike, so the writer and the
reader cannot drift apart. Pure Python (no Spark, no Redis client). Every layout decision is
written down in ``docs/redis-format.md`` and pinned by golden-bytes tests in
``tests/unit/keyspace``; changing a byte here is a format change (bump ``FORMAT``).

Layout (per published graph version ``V``):

* cookie ``(site_id, cookie_id)`` -> 16-byte BLAKE2b digest ``D``;
  bucket ``int(D[:8]) % buckets``, field ``D[8:15]`` (7 bytes; format 1: ``D[8:16]``) in hash
  ``idg:c:V:<bucket>``, value ``[tag | household flag][confidence u8][household][unified id
  payload]`` (format 1: no household).
* login hash -> 16-byte digest ``L``; bucket ``int(L[:8]) % login_buckets``, field ``L[8:]``
  in hash ``idg:l:V:<bucket>``, value = the 16-byte digests of the cookies to remove.
* unified id (of a person with two cookies or more) -> 16-byte digest ``P``; bucket
  ``int(P[:8]) % person_buckets``, field ``P[8:]`` in hash ``idg:p:V:<bucket>``, value = the
  16-byte digests of the person's cookies (what an opt-out removes together).
* control keys share the ``{ctl}`` hash tag so one cluster slot holds them all and a
  ``MULTI`` over them is legal on a cluster.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import struct
from collections.abc import Iterable, Iterator
from typing import Any

FORMAT = 2
"""Layout version written, stored in every version's metadata (2: household ids)."""
READABLE_FORMATS = (1, 2)
"""Layouts a reader understands: a version of format 1 (no household) still answers, so a
rollback to a version published before households keeps working; other values are refused."""

PREFIX = "idg"
LIVE_KEY = f"{PREFIX}:{{ctl}}:live"
"""String: JSON of the live ``GraphVersion`` (with its predecessor). The atomic pointer."""
VERSIONS_KEY = f"{PREFIX}:{{ctl}}:versions"
"""Hash: version name -> JSON ``GraphVersion`` of every version present (loading, live, …)."""
SEQ_KEY = f"{PREFIX}:{{ctl}}:seq"
"""Counter making version names unique when a day is published twice."""
LOCK_KEY = f"{PREFIX}:{{ctl}}:publish-lock"
"""``SET NX PX``: one publisher at a time."""
OPTOUTS_KEY = f"{PREFIX}:{{ctl}}:optouts"
"""Stream of opt-out requests not yet drained into the lake table ``optouts``."""
FEEDBACK_KEY = f"{PREFIX}:{{ctl}}:feedback"
"""Stream of link verdicts (``POST /v1/feedback``) not yet drained into the table ``feedback``."""
FEEDBACK_RATE_PREFIX = f"{PREFIX}:{{ctl}}:feedback-rate"
"""``<prefix>:<key id>:<window>``: feedback requests of one API key in one fixed window."""

DIGEST_SIZE = 16
FIELD_SIZE = 7
"""Bytes of a hash field (format 2); 64 - 8 bits of the digest left unused pay for the
household id (docs/redis-format.md: <= 32 B per cookie)."""
_FIELD_SIZES = {1: 8, 2: FIELD_SIZE}
_COOKIE_PERSON = b"idg-cookie"
_LOGIN_PERSON = b"idg-login"
_UNIFIED_PERSON = b"idg-person"

# Unified-id payload tags (first value byte). Each tag names how the id's text is packed.
TAG_UTF8 = 0x01  # any text, UTF-8 as is
TAG_HEX = 0x02  # lowercase hex of even length: the raw bytes
TAG_PREFIXED_HEX = 0x03  # "<prefix>[sep]<lowercase hex>": [len][prefix+sep][raw bytes]
TAG_DECIMAL = 0x04  # decimal integer < 2**64 without leading zeros: minimal big-endian bytes
TAG_UUID = 0x05  # canonical lowercase UUID (8-4-4-4-12): 16 raw bytes
TAG_GRAPH_ID = 0x06  # format 2: the graph's own "u" + 24 lowercase hex: 12 raw bytes
_TAG_MASK = 0x3F
# Household flags of the first value byte (format 2), the household bytes right after the
# confidence byte: the graph's own "h" + 12 lowercase hex as 6 raw bytes, or any other text.
HOUSEHOLD_GRAPH_ID = 0x80
HOUSEHOLD_TEXT = 0x40  # [len u8][UTF-8]
_HOUSEHOLD_ID = re.compile(r"h((?:[0-9a-f]{2}){6})")
_GRAPH_ID = re.compile(r"u((?:[0-9a-f]{2}){12})")

_HEX = re.compile(r"(?:[0-9a-f]{2})+")
# Shortest prefix (lazy) whose remainder is even-length lowercase hex: "u3fa8…" -> "u" + bytes.
_PREFIXED_HEX = re.compile(r"([A-Za-z][A-Za-z0-9]{0,14}?[_:-]?)((?:[0-9a-f]{2})+)")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_VERSION = re.compile(r"[0-9]{8}\.[0-9]{1,10}")


def cookie_digest(site_id: str, cookie_id: str) -> bytes:
    """16-byte digest of a cookie: BLAKE2b over ``len(site) u16 BE | site | cookie`` (UTF-8).

    The length prefix keeps ``("ab", "c")`` and ``("a", "bc")`` apart without reserving a
    separator character.
    """
    site = site_id.encode()
    return hashlib.blake2b(
        struct.pack(">H", len(site)) + site + cookie_id.encode(),
        digest_size=DIGEST_SIZE,
        person=_COOKIE_PERSON,
    ).digest()


def login_digest(login_hash: str) -> bytes:
    """16-byte digest of a (already hashed, hex) login identifier."""
    return hashlib.blake2b(
        login_hash.encode(), digest_size=DIGEST_SIZE, person=_LOGIN_PERSON
    ).digest()


def person_digest(unified_id: str) -> bytes:
    """16-byte digest of a unified id (the person index's key material)."""
    return hashlib.blake2b(
        unified_id.encode(), digest_size=DIGEST_SIZE, person=_UNIFIED_PERSON
    ).digest()


def bucket_of(digest: bytes, buckets: int) -> int:
    """Bucket index of a digest: its first 8 bytes (big-endian) modulo ``buckets``."""
    return int.from_bytes(digest[:8], "big") % buckets


def field_of(digest: bytes, fmt: int = FORMAT) -> bytes:
    """Hash field of a digest in layout ``fmt``: the bytes after the bucket's 8 (independent
    of the bucket bits), 7 of them (format 1: 8)."""
    return digest[8 : 8 + _FIELD_SIZES[fmt]]


def cookie_key(version: str, bucket: int) -> bytes:
    """Key of one cookie bucket of ``version``: ``idg:c:<version>:<bucket>``."""
    return f"{PREFIX}:c:{version}:{bucket}".encode()


def login_key(version: str, bucket: int) -> bytes:
    """Key of one login-index bucket of ``version``: ``idg:l:<version>:<bucket>``."""
    return f"{PREFIX}:l:{version}:{bucket}".encode()


def person_key(version: str, bucket: int) -> bytes:
    """Key of one person-index bucket of ``version``: ``idg:p:<version>:<bucket>``."""
    return f"{PREFIX}:p:{version}:{bucket}".encode()


def cookie_location(version: GraphVersion, site_id: str, cookie_id: str) -> tuple[bytes, bytes]:
    """(key, field) of a cookie in ``version``."""
    digest = cookie_digest(site_id, cookie_id)
    return digest_location(version, digest)


def digest_location(version: GraphVersion, digest: bytes) -> tuple[bytes, bytes]:
    """(key, field) of a cookie digest (as stored in the login index) in ``version``."""
    key = cookie_key(version.name, bucket_of(digest, version.buckets))
    return key, field_of(digest, version.format)


def login_location(version: GraphVersion, login_hash: str) -> tuple[bytes, bytes] | None:
    """(key, field) of a login hash in ``version``'s login index, or None without an index."""
    if version.login_buckets <= 0:
        return None
    digest = login_digest(login_hash)
    key = login_key(version.name, bucket_of(digest, version.login_buckets))
    return key, field_of(digest, version.format)


def person_location(version: GraphVersion, unified_id: str) -> tuple[bytes, bytes] | None:
    """(key, field) of a unified id in ``version``'s person index, or None without an index."""
    if version.person_buckets <= 0:
        return None
    digest = person_digest(unified_id)
    return person_key(version.name, bucket_of(digest, version.person_buckets)), field_of(
        digest, version.format
    )


def quantize_confidence(confidence: float) -> int:
    """Confidence 0..1 as one byte (steps of 1/255); out-of-range values are clamped."""
    if confidence != confidence:  # NaN: no evidence, the lowest confidence
        return 0
    return max(0, min(255, round(confidence * 255)))


def _unified_payload(unified_id: str) -> tuple[int, bytes]:
    """(tag, payload) of a unified id: the most compact tag that round-trips exactly."""
    graph_id = _GRAPH_ID.fullmatch(unified_id)
    if graph_id:
        return TAG_GRAPH_ID, bytes.fromhex(graph_id.group(1))
    if _UUID.fullmatch(unified_id):
        return TAG_UUID, bytes.fromhex(unified_id.replace("-", ""))
    if _DECIMAL.fullmatch(unified_id) and int(unified_id) < 2**64:
        number = int(unified_id)
        return TAG_DECIMAL, number.to_bytes(max(1, (number.bit_length() + 7) // 8))
    if _HEX.fullmatch(unified_id):
        return TAG_HEX, bytes.fromhex(unified_id)
    match = _PREFIXED_HEX.fullmatch(unified_id)
    if match:
        prefix = match.group(1).encode()
        return TAG_PREFIXED_HEX, bytes((len(prefix),)) + prefix + bytes.fromhex(match.group(2))
    return TAG_UTF8, unified_id.encode()


def _household_part(household_id: str | None) -> tuple[int, bytes]:
    """(flag, bytes) of a household id (None: no household, no bytes)."""
    if household_id is None:
        return 0, b""
    graph_id = _HOUSEHOLD_ID.fullmatch(household_id)
    if graph_id:
        return HOUSEHOLD_GRAPH_ID, bytes.fromhex(graph_id.group(1))
    raw = household_id.encode()
    if len(raw) > 255:
        raise ValueError("a household id longer than 255 bytes")
    return HOUSEHOLD_TEXT, bytes((len(raw),)) + raw


def encode_value(unified_id: str, confidence: float, household_id: str | None = None) -> bytes:
    """Pack a cookie's unified id, confidence and household id (format 2):
    ``[tag | household flag][confidence u8][household bytes][unified id payload]``.

    The most compact encodings that round-trip exactly are chosen, so any text is accepted
    and decoding always returns the same strings.
    """
    conf = quantize_confidence(confidence)
    tag, payload = _unified_payload(unified_id)
    flag, household = _household_part(household_id)
    return bytes((tag | flag, conf)) + household + payload


def decode_cookie(value: bytes) -> tuple[str, float, str | None]:
    """Inverse of ``encode_value`` (and of format 1's): (unified_id, confidence rounded to 3
    decimals, household_id or None). A format-1 value has no household flag set.

    Raises:
        ValueError: on an unknown tag (a value written by a newer format).
    """
    head, conf = value[0], value[1]
    tag, rest = head & _TAG_MASK, value[2:]
    household: str | None = None
    if head & HOUSEHOLD_GRAPH_ID:
        household, rest = "h" + rest[:6].hex(), rest[6:]
    elif head & HOUSEHOLD_TEXT:
        n = rest[0]
        household, rest = rest[1 : 1 + n].decode(), rest[1 + n :]
    return _decode_unified(tag, rest), round(conf / 255, 3), household


def decode_value(value: bytes) -> tuple[str, float]:
    """(unified_id, confidence rounded to 3 decimals) of a value (``decode_cookie``)."""
    unified_id, confidence, _ = decode_cookie(value)
    return unified_id, confidence


def _decode_unified(tag: int, payload: bytes) -> str:
    if tag == TAG_GRAPH_ID:
        return "u" + payload.hex()
    if tag == TAG_UUID:
        h = payload.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if tag == TAG_HEX:
        return payload.hex()
    if tag == TAG_DECIMAL:
        return str(int.from_bytes(payload, "big"))
    if tag == TAG_PREFIXED_HEX:
        n = payload[0]
        return payload[1 : 1 + n].decode() + payload[1 + n :].hex()
    if tag == TAG_UTF8:
        return payload.decode()
    raise ValueError(f"unknown value tag 0x{tag:02x}")


def encode_digests(digests: Iterable[bytes]) -> bytes:
    """Login- or person-index value: the cookie digests concatenated, sorted (canonical bytes)."""
    return b"".join(sorted(set(digests)))


def decode_digests(value: bytes) -> list[bytes]:
    """Split a login-index value back into 16-byte cookie digests."""
    return [value[i : i + DIGEST_SIZE] for i in range(0, len(value), DIGEST_SIZE)]


def bucket_count(rows: int, fill: int) -> int:
    """Buckets for ``rows`` entries at an average of ``fill`` per bucket (at least one)."""
    return max(1, -(-rows // fill))


def version_name(day_yyyymmdd: str, seq: int) -> str:
    """Version name ``YYYYMMDD.<seq>``: sortable by day, unique by the publish counter."""
    name = f"{day_yyyymmdd}.{seq}"
    if not _VERSION.fullmatch(name):
        raise ValueError(f"bad version name {name!r}")
    return name


@dataclasses.dataclass(frozen=True)
class GraphVersion:
    """What a reader needs to address one published version."""

    name: str
    buckets: int
    login_buckets: int = 0
    person_buckets: int = 0
    """Buckets of the person index; 0 in versions published before it existed."""
    cookies: int = 0
    day: str = ""
    status: str = "live"
    """``loading`` while written, ``live``, ``previous``, or ``retired`` (expiring)."""
    published_at: str = ""
    format: int = FORMAT

    def keys(self) -> Iterator[bytes]:
        """Every key of this version (cookie, login and person buckets), for deletion or expiry."""
        for bucket in range(self.buckets):
            yield cookie_key(self.name, bucket)
        for bucket in range(self.login_buckets):
            yield login_key(self.name, bucket)
        for bucket in range(self.person_buckets):
            yield person_key(self.name, bucket)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphVersion:
        """Build from ``to_dict`` output, refusing foreign layouts."""
        if data.get("format") not in READABLE_FORMATS:
            raise ValueError(f"graph format {data.get('format')} is not one of {READABLE_FORMATS}")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def encode_live(live: GraphVersion, previous: GraphVersion | None) -> bytes:
    """Value of ``LIVE_KEY``: the live version and the one a rollback returns to."""
    body = {"live": live.to_dict(), "previous": previous.to_dict() if previous else None}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def decode_live(raw: bytes | str | None) -> tuple[GraphVersion | None, GraphVersion | None]:
    """Parse ``LIVE_KEY``; (None, None) when nothing was ever published."""
    if not raw:
        return None, None
    body = json.loads(raw)
    previous = body.get("previous")
    return (
        GraphVersion.from_dict(body["live"]),
        GraphVersion.from_dict(previous) if previous else None,
    )


def encode_version(version: GraphVersion) -> bytes:
    """Registry entry (``VERSIONS_KEY`` field value) of a version."""
    return json.dumps(version.to_dict(), sort_keys=True, separators=(",", ":")).encode()


def decode_version(raw: bytes | str) -> GraphVersion:
    """Inverse of ``encode_version``."""
    return GraphVersion.from_dict(json.loads(raw))


OPTOUT_FIELDS = ("kind", "site_id", "cookie_id", "login_hash", "requested_at")
"""Fields of an ``OPTOUTS_KEY`` stream entry (strings; absent parts are empty)."""


def optout_entry(
    *, kind: str, requested_at: str, site_id: str = "", cookie_id: str = "", login_hash: str = ""
) -> dict[str, str]:
    """Stream entry of one opt-out request (``kind`` is ``cookie`` or ``login_hash``).

    Raises:
        ValueError: on an unknown kind or a missing identifier.
    """
    if kind == "cookie" and not (site_id and cookie_id):
        raise ValueError("a cookie opt-out needs site_id and cookie_id")
    if kind == "login_hash" and not login_hash:
        raise ValueError("a login_hash opt-out needs login_hash")
    if kind not in ("cookie", "login_hash"):
        raise ValueError(f"unknown opt-out kind {kind!r}")
    return {
        "kind": kind,
        "site_id": site_id,
        "cookie_id": cookie_id,
        "login_hash": login_hash,
        "requested_at": requested_at,
    }


def parse_optout(fields: dict[Any, Any]) -> dict[str, str]:
    """Stream entry (bytes or str keys/values) -> ``optout_entry`` mapping."""
    return _stream_fields(fields, OPTOUT_FIELDS, errors="strict")


def _stream_fields(
    fields: dict[Any, Any], names: tuple[str, ...], *, errors: str
) -> dict[str, str]:
    """``names`` of a stream entry as text (bytes decoded with ``errors``; absent: empty)."""

    def text(x: Any) -> Any:
        return x.decode(errors=errors) if isinstance(x, bytes) else x

    decoded = {text(k): text(v) for k, v in fields.items()}
    return {name: decoded.get(name, "") for name in names}


FEEDBACK_VERDICTS = ("different_people", "same_person")
"""What a verdict on two cookies can say."""

FEEDBACK_FIELDS = (
    "site_id_a",
    "cookie_id_a",
    "site_id_b",
    "cookie_id_b",
    "verdict",
    "reason",
    "key_id",
    "received_at",
)
"""Fields of a ``FEEDBACK_KEY`` stream entry (strings; an absent reason is empty)."""

_KEY_ID_PERSON = b"idg-api-key"
KEY_ID_CHARS = 16


def api_key_id(api_key: str) -> str:
    """An irreversible id of an API key (16 hex of BLAKE2b), recorded instead of the key.

    API keys are long random secrets, so a truncated hash of one cannot be turned back into
    it by guessing; the id still tells which key sent what.
    """
    digest = hashlib.blake2b(api_key.encode(), digest_size=8, person=_KEY_ID_PERSON)
    return digest.hexdigest()[:KEY_ID_CHARS]


def feedback_entry(
    *,
    a: tuple[str, str],
    b: tuple[str, str],
    verdict: str,
    key_id: str,
    received_at: str,
    reason: str = "",
) -> dict[str, str]:
    """Stream entry of one verdict on cookies ``a`` and ``b`` (each ``(site_id, cookie_id)``).

    Raises:
        ValueError: on an unknown verdict, a missing identifier or ``a == b``.
    """
    if verdict not in FEEDBACK_VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    if not all((*a, *b, key_id)):
        raise ValueError("a verdict needs both cookies and a key id")
    if a == b:
        raise ValueError("a verdict needs two different cookies")
    return {
        "site_id_a": a[0],
        "cookie_id_a": a[1],
        "site_id_b": b[0],
        "cookie_id_b": b[1],
        "verdict": verdict,
        "reason": reason,
        "key_id": key_id,
        "received_at": received_at,
    }


def parse_feedback(fields: dict[Any, Any]) -> dict[str, str]:
    """Stream entry (bytes or str keys/values) -> ``feedback_entry`` mapping (absent: empty)."""
    return _stream_fields(fields, FEEDBACK_FIELDS, errors="replace")


def feedback_rate_key(key_id: str, window: int) -> str:
    """Counter of one key's feedback requests in fixed window number ``window``."""
    return f"{FEEDBACK_RATE_PREFIX}:{key_id}:{window}"
