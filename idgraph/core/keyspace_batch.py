"""``keyspace``'s cookie encoding for a whole Arrow batch: the same bytes, vectorised.

``idgraph.core.keyspace`` stays the definition (pure Python, imported by the lookup service,
which has no numpy); this module produces byte-identical output for the Spark loader at a
fraction of the per-row cost, and ``tests/unit/keyspace/test_keyspace_batch.py`` checks it
against the scalar functions row by row.

* Digests: BLAKE2b stays per row (hashlib), but from a per-site hasher that already holds
  ``u16be(len(site)) || site`` (``copy()`` + ``update(cookie)``), reading the cookie's UTF-8
  straight from the Arrow buffer.
* Bucket and field: numpy over all digests at once.
* Value: the graph stage's own ids (``u`` + 24 lowercase hex, households ``h`` + 12) are
  packed with numpy (``[0x86][conf][6 bytes][12 bytes]``, what ``encode_value`` picks for
  them); any other id, a null household, and any infinite confidence (``encode_value``
  raises), goes through ``encode_value``.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from idgraph.core import keyspace as ks

_UID_LENGTH = 25  # "u" + 24 hex: spark_jobs.graph.stable_ids
_HID_LENGTH = 13  # "h" + 12 hex
_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
_HEX_VALUE[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)


def cookie_digests(sites: pa.Array, cookies: pa.Array) -> np.ndarray:
    """``keyspace.cookie_digest`` of every row, as an (n x 16) uint8 array.

    Args:
        sites: ``string`` array, no nulls.
        cookies: ``string`` array of the same length, no nulls.
    """
    site_codes = pc.dictionary_encode(sites)
    hashers = []
    for site in site_codes.dictionary.to_pylist():
        raw = site.encode()
        seed = struct.pack(">H", len(raw)) + raw
        person = ks._COOKIE_PERSON  # the same constant, not a copy that could drift
        hashers.append(hashlib.blake2b(seed, digest_size=ks.DIGEST_SIZE, person=person))
    cookie_bytes, bounds = _utf8(cookies)
    digests = []
    for code, start, end in zip(
        site_codes.indices.to_numpy().tolist(), bounds[:-1], bounds[1:], strict=True
    ):
        hasher = hashers[code].copy()
        hasher.update(cookie_bytes[start:end])
        digests.append(hasher.digest())
    return np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, ks.DIGEST_SIZE)


def buckets_of(digests: np.ndarray, buckets: int) -> np.ndarray:
    """``keyspace.bucket_of`` of every digest row (int64)."""
    head = np.ascontiguousarray(digests[:, :8]).view(">u8").ravel()
    return (head % np.uint64(buckets)).astype(np.int64)


def fields_of(digests: np.ndarray) -> pa.Array:
    """``keyspace.field_of`` of every digest row, as a ``binary`` array."""
    return _fixed_width(np.ascontiguousarray(digests[:, 8 : 8 + ks.FIELD_SIZE]))


def quantize_confidences(confidences: np.ndarray) -> np.ndarray:
    """``keyspace.quantize_confidence`` of finite or NaN values, as uint8.

    ``np.rint`` rounds half to even like Python's ``round``.
    """
    scaled = np.clip(np.rint(confidences * 255.0), 0, 255)
    return np.where(np.isnan(confidences), 0, scaled).astype(np.uint8)


def encode_values(
    unified_ids: pa.Array, confidences: pa.Array, household_ids: pa.Array | None = None
) -> pa.Array:
    """``keyspace.encode_value`` of every row, as a ``binary`` array.

    Args:
        unified_ids: ``string`` array, no nulls.
        confidences: floating-point array of the same length, no nulls.
        household_ids: ``string`` array of the same length (nulls: no household), or None.
    """
    if household_ids is None:
        household_ids = pa.nulls(len(unified_ids), pa.string())
    conf = confidences.to_numpy(zero_copy_only=False).astype(np.float64)
    packed, fast = _pack_graph_ids(unified_ids, household_ids, np.where(np.isinf(conf), 0.0, conf))
    fast &= ~np.isinf(conf)
    if fast.all():
        return _fixed_width(packed)
    ids, households = unified_ids.to_pylist(), household_ids.to_pylist()
    packed_rows = packed.tobytes()
    width = packed.shape[1]
    values = [
        packed_rows[i * width : (i + 1) * width]
        if fast[i]
        else ks.encode_value(ids[i], float(conf[i]), households[i])
        for i in range(len(ids))
    ]
    return pa.array(values, pa.binary())


def encode_cookie_batch(batch: pa.RecordBatch, buckets: int) -> pa.RecordBatch:
    """Graph rows (``site_id, cookie_id, unified_id, confidence[, household_id]``) ->
    ``(bucket, field, value)``.

    A batch with a null anywhere but in ``household_id`` goes through the scalar ``keyspace``
    functions, which raise on it exactly as before.
    """
    names = ("site_id", "cookie_id", "unified_id", "confidence")
    columns = [batch.column(name) for name in names]
    if any(column.null_count for column in columns):
        return encode_cookie_rows(batch, buckets)
    households = batch.column("household_id") if "household_id" in batch.schema.names else None
    digests = cookie_digests(columns[0], columns[1])
    return pa.RecordBatch.from_arrays(
        [
            pa.array(buckets_of(digests, buckets), pa.int32()),
            fields_of(digests),
            encode_values(columns[2], columns[3], households),
        ],
        names=["bucket", "field", "value"],
    )


def encode_cookie_rows(batch: pa.RecordBatch, buckets: int) -> pa.RecordBatch:
    """``encode_cookie_batch`` one row at a time with the scalar ``keyspace`` functions."""
    cols = batch.to_pydict()
    households = cols.get("household_id") or [None] * batch.num_rows
    out_bucket, out_field, out_value = [], [], []
    for site, cookie, uid, conf, household in zip(
        cols["site_id"],
        cols["cookie_id"],
        cols["unified_id"],
        cols["confidence"],
        households,
        strict=True,
    ):
        digest = ks.cookie_digest(site, cookie)
        out_bucket.append(ks.bucket_of(digest, buckets))
        out_field.append(ks.field_of(digest))
        out_value.append(ks.encode_value(uid, conf, household))
    return pa.RecordBatch.from_arrays(
        [
            pa.array(out_bucket, pa.int32()),
            pa.array(out_field, pa.binary()),
            pa.array(out_value, pa.binary()),
        ],
        names=["bucket", "field", "value"],
    )


def _hex_chars(strings: pa.Array, length: int, lead: str) -> tuple[np.ndarray, Any]:
    """Nibbles of the ``lead`` + hex strings of ``length`` chars, and which rows are such."""
    strings = pc.fill_null(strings, "")
    text, bounds = _utf8(strings)
    starts = np.asarray(bounds[:-1], dtype=np.int64)
    fits = np.diff(np.asarray(bounds, dtype=np.int64)) == length
    chars = np.zeros((len(starts), length), dtype=np.uint8)
    data = np.frombuffer(text, dtype=np.uint8)
    if fits.any():
        chars[fits] = data[starts[fits, None] + np.arange(length)]
    nibbles = _HEX_VALUE[chars[:, 1:]]
    return nibbles, fits & (chars[:, 0] == ord(lead)) & (nibbles < 16).all(axis=1)


def _pack_graph_ids(
    unified_ids: pa.Array, household_ids: pa.Array, confidences: np.ndarray
) -> tuple[np.ndarray, Any]:
    """Values of rows with a ``u`` + 24-hex id and an ``h`` + 12-hex household, and which
    rows are such (others: zeros, False)."""
    uid, uid_ok = _hex_chars(unified_ids, _UID_LENGTH, "u")
    hid, hid_ok = _hex_chars(household_ids, _HID_LENGTH, "h")
    packed = np.zeros((len(uid), 2 + 6 + 12), dtype=np.uint8)
    packed[:, 0] = ks.TAG_GRAPH_ID | ks.HOUSEHOLD_GRAPH_ID
    packed[:, 1] = quantize_confidences(confidences)
    packed[:, 2:8] = (hid[:, 0::2] << 4) | (hid[:, 1::2] & 0x0F)
    packed[:, 8:] = (uid[:, 0::2] << 4) | (uid[:, 1::2] & 0x0F)
    return packed, uid_ok & hid_ok


def _utf8(strings: pa.Array) -> tuple[bytes, list[int]]:
    """The UTF-8 bytes of a ``string`` array and each row's bounds in them."""
    strings = strings.cast(pa.large_string())
    _, offsets_buf, data_buf = strings.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[
        strings.offset : strings.offset + len(strings) + 1
    ]
    data = data_buf.to_pybytes() if data_buf is not None else b""
    return data, offsets.tolist()


def _fixed_width(rows: np.ndarray) -> pa.Array:
    """A ``binary`` array whose string i is ``rows[i]`` (rows: n x width uint8)."""
    n, width = rows.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(rows.tobytes())]
    )
