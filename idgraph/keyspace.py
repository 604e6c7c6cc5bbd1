"""The Redis keyspace of the identity graph: keys, fields and values, byte for byte.

One module, imported by the Spark loader and the lookup service alike, so the writer and the
reader cannot drift apart. Pure Python (no Spark, no Redis client). Every layout decision is
written down in ``docs/redis-format.md`` and pinned by golden-bytes tests in
``tests/unit/keyspace``; changing a byte here is a format change (bump ``FORMAT``).

Layout (per published graph version ``V``):

* cookie ``(site_id, cookie_id)`` -> 16-byte BLAKE2b digest ``D``;
  bucket ``int(D[:8]) % buckets``, field ``D[8:]`` (8 bytes) in hash ``idg:c:V:<bucket>``,
  value ``[tag][confidence u8][unified id payload]``.
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

FORMAT = 1
"""Layout version, stored in every version's metadata; readers refuse other values."""

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
FIELD_SIZE = 8
_COOKIE_PERSON = b"idg-cookie"
_LOGIN_PERSON = b"idg-login"
_UNIFIED_PERSON = b"idg-person"

# Unified-id payload tags (first value byte). Each tag names how the id's text is packed.
TAG_UTF8 = 0x01  # any text, UTF-8 as is
TAG_HEX = 0x02  # lowercase hex of even length: the raw bytes
TAG_PREFIXED_HEX = 0x03  # "<prefix>[sep]<lowercase hex>": [len][prefix+sep][raw bytes]
TAG_DECIMAL = 0x04  # decimal integer < 2**64 without leading zeros: minimal big-endian bytes
TAG_UUID = 0x05  # canonical lowercase UUID (8-4-4-4-12): 16 raw bytes

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


def field_of(digest: bytes) -> bytes:
    """Hash field of a digest: its last 8 bytes (independent of the bucket bits)."""
    return digest[8:]


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
    return cookie_key(version.name, bucket_of(digest, version.buckets)), field_of(digest)


def digest_location(version: GraphVersion, digest: bytes) -> tuple[bytes, bytes]:
    """(key, field) of a cookie digest (as stored in the login index) in ``version``."""
    return cookie_key(version.name, bucket_of(digest, version.buckets)), field_of(digest)


def login_location(version: GraphVersion, login_hash: str) -> tuple[bytes, bytes] | None:
    """(key, field) of a login hash in ``version``'s login index, or None without an index."""
    if version.login_buckets <= 0:
        return None
    digest = login_digest(login_hash)
    return login_key(version.name, bucket_of(digest, version.login_buckets)), field_of(digest)


def person_location(version: GraphVersion, unified_id: str) -> tuple[bytes, bytes] | None:
    """(key, field) of a unified id in ``version``'s person index, or None without an index."""
    if version.person_buckets <= 0:
        return None
    digest = person_digest(unified_id)
    return person_key(version.name, bucket_of(digest, version.person_buckets)), field_of(digest)


def quantize_confidence(confidence: float) -> int:
    """Confidence 0..1 as one byte (steps of 1/255); out-of-range values are clamped."""
    if confidence != confidence:  # NaN: no evidence, the lowest confidence
        return 0
    return max(0, min(255, round(confidence * 255)))


def encode_value(unified_id: str, confidence: float) -> bytes:
    """Pack a unified id and its confidence: ``[tag u8][confidence u8][payload]``.

    The most compact tag that round-trips exactly is chosen, so any text is accepted and
    decoding always returns the same string.
    """
    conf = quantize_confidence(confidence)
    if _UUID.fullmatch(unified_id):
        return bytes((TAG_UUID, conf)) + bytes.fromhex(unified_id.replace("-", ""))
    if _DECIMAL.fullmatch(unified_id) and int(unified_id) < 2**64:
        number = int(unified_id)
        return bytes((TAG_DECIMAL, conf)) + number.to_bytes(max(1, (number.bit_length() + 7) // 8))
    if _HEX.fullmatch(unified_id):
        return bytes((TAG_HEX, conf)) + bytes.fromhex(unified_id)
    match = _PREFIXED_HEX.fullmatch(unified_id)
    if match:
        prefix = match.group(1).encode()
        return bytes((TAG_PREFIXED_HEX, conf, len(prefix))) + prefix + bytes.fromhex(match.group(2))
    return bytes((TAG_UTF8, conf)) + unified_id.encode()


def decode_value(value: bytes) -> tuple[str, float]:
    """Inverse of ``encode_value``: (unified_id, confidence rounded to 3 decimals).

    Raises:
        ValueError: on an unknown tag (a value written by a newer format).
    """
    tag, conf, payload = value[0], value[1], value[2:]
    confidence = round(conf / 255, 3)
    if tag == TAG_UUID:
        h = payload.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", confidence
    if tag == TAG_HEX:
        return payload.hex(), confidence
    if tag == TAG_DECIMAL:
        return str(int.from_bytes(payload, "big")), confidence
    if tag == TAG_PREFIXED_HEX:
        n = payload[0]
        return payload[1 : 1 + n].decode() + payload[1 + n :].hex(), confidence
    if tag == TAG_UTF8:
        return payload.decode(), confidence
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
        if data.get("format") != FORMAT:
            raise ValueError(f"graph format {data.get('format')} is not {FORMAT}")
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
    text = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    return {name: text.get(name, "") for name in OPTOUT_FIELDS}


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
    text = {
        (k.decode(errors="replace") if isinstance(k, bytes) else k): (
            v.decode(errors="replace") if isinstance(v, bytes) else v
        )
        for k, v in fields.items()
    }
    return {name: text.get(name, "") for name in FEEDBACK_FIELDS}


def feedback_rate_key(key_id: str, window: int) -> str:
    """Counter of one key's feedback requests in fixed window number ``window``."""
    return f"{FEEDBACK_RATE_PREFIX}:{key_id}:{window}"
