"""``DUMP`` payloads of listpack-encoded hashes, built client-side for ``RESTORE``.

Writing a bucket with ``HSET`` makes the server scan its listpack once per field (O(n²) per
bucket) and the client pack every field as a separate argument. ``RESTORE key 0 payload``
hands the server the finished listpack instead: it checks a CRC and copies the bytes.

Everything here is vectorised over many rows with numpy and pyarrow (no Spark, no Redis
client). The layout is written down in ``docs/redis-format.md`` ("Bulk load with RESTORE")
and pinned by golden bytes in ``tests/unit/keyspace/test_rdb_payload.py``:

* listpack: ``[total bytes u32 LE][elements u16 LE][entries…][0xFF]``; an entry is
  ``[encoding + length][bytes][backlen]`` and fields and values alternate;
* payload: ``[type 16][RDB length of the listpack][listpack][RDB version u16 LE][CRC-64 LE]``.

The CRC is Redis's CRC-64/Jones (reflected, init 0, no final xor), computed for many
payloads at once: each payload is cut into 128-byte chunks aligned on its end (the first one
padded with leading zeros, which leave a zero-initialised CRC unchanged); every chunk's CRC
is an XOR of per-position table lookups, and neighbouring chunks are then merged pairwise,
``crc(a + b) = shift(crc(a), len(b)) ^ crc(b)``, in log2(chunks) vectorised rounds.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

RDB_TYPE_HASH_LISTPACK = 16
"""RDB object type of a hash stored as one listpack (Redis 7+, Valkey)."""

CRC64_POLY = 0x95AC9329AC4BC9B5
"""The Jones polynomial 0xad93d23594c935a9, bit-reversed for the reflected algorithm."""

LISTPACK_HEADER = 6  # total bytes u32 + element count u16
_LP_END = 0xFF
_LP_COUNT_UNKNOWN = 0xFFFF  # element counts from 65535 up are stored as "unknown"
# CRC chunk and pass sizes: fastest measured pair (64..512 x 64..2048) on a 2-core x86 box.
_CHUNK = 128  # bytes per chunk: a 128 x 256 table of uint64 (256 KiB)
_ZEROS = bytes(_CHUNK)
_BLOCK_CHUNKS = 256  # chunks per table-lookup pass: its uint64 temporaries stay in cache


def _binary(lengths: np.ndarray, data: np.ndarray) -> pa.Array:
    """A pyarrow ``binary`` array from string lengths and their bytes back to back."""
    import pyarrow as pa

    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))]
    return pa.Array.from_buffers(pa.binary(), len(lengths), buffers)


def _small_strings(rows: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """Binary array whose string i is ``rows[i, :lengths[i]]`` (rows: n x width uint8)."""
    keep = np.arange(rows.shape[1]) < lengths[:, None]
    return _binary(lengths, rows[keep])


def entry_framing(lengths: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """What goes before and after each string to make it a listpack entry (string encoding).

    Before: ``[0x80|len]`` below 64 bytes, ``[0xE0|len>>8][len&0xFF]`` below 4096, else
    ``[0xF0][len u32 LE]``. After: the backlen, i.e. the entry's size without itself
    (encoding + bytes) in as few 7-bit groups as hold it (1–5 bytes), most significant
    first, every byte after the first with its high bit set (size 16383 takes 2 bytes,
    16384 takes 3: what the server writes itself). ``lpFind`` compares string entries with
    ``memcmp``, so a digit-only string stored this way is still found by ``HGET``.

    Returns:
        (encodings, backlens) as pyarrow binary arrays, one string per input length.
    """
    n = np.asarray(lengths, dtype=np.int64)
    if len(n) == 0 or n.max() < 64:  # every graph field and value: one byte on each side
        return _binary(np.ones_like(n), (0x80 | n).astype(np.uint8)), _binary(
            np.ones_like(n), (n + 1).astype(np.uint8)
        )
    head_size = 1 + (n >= 64) + 3 * (n >= 4096)
    head = np.zeros((len(n), 5), dtype=np.uint8)
    head[:, 0] = np.select([head_size == 1, head_size == 2], [0x80 | n, 0xE0 | (n >> 8)], 0xF0)
    head[:, 1] = n & 0xFF  # low byte of the 12-bit length, or of the u32 LE one
    for i in range(2, 5):
        head[:, i] = (n >> (8 * (i - 1))) & 0xFF
    size = head_size + n
    back_size = 1 + (size >> 7 > 0) + (size >> 14 > 0) + (size >> 21 > 0) + (size >> 28 > 0)
    back = np.zeros((len(n), 5), dtype=np.uint8)
    for i in range(5):
        shift = 7 * (back_size - 1 - i)
        byte = (size >> np.maximum(shift, 0)) & 0x7F
        back[:, i] = np.where(shift >= 0, byte | (0x80 if i else 0), 0)
    return _small_strings(head, head_size), _small_strings(back, back_size)


def hash_entries(fields: pa.Array, values: pa.Array) -> pa.Array:
    """Listpack entries of ``(field, value)`` rows: string i = entry(field i) + entry(value i).

    Args:
        fields: pyarrow ``binary`` array, no nulls.
        values: pyarrow ``binary`` array of the same length, no nulls.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if fields.null_count or values.null_count:
        raise ValueError("null fields or values cannot be encoded")
    fields, values = fields.cast(pa.binary()), values.cast(pa.binary())  # int32 offsets
    field_head, field_back = entry_framing(pc.binary_length(fields).to_numpy())
    value_head, value_back = entry_framing(pc.binary_length(values).to_numpy())
    return pc.binary_join_element_wise(
        field_head, fields, field_back, value_head, values, value_back, pa.scalar(b"")
    )


def rdb_length(n: int) -> bytes:
    """RDB length encoding: 6-bit, 14-bit big-endian, ``0x80`` + u32 BE or ``0x81`` + u64 BE."""
    if n < 1 << 6:
        return bytes((n,))
    if n < 1 << 14:
        return bytes((0x40 | n >> 8, n & 0xFF))
    if n < 1 << 32:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def hash_payloads(rows: pa.Array, bounds: np.ndarray, rdb_version: int) -> list[bytes]:
    """``DUMP`` payloads of listpack hashes, one per group of consecutive rows.

    Args:
        rows: ``hash_entries`` output (one field/value pair per row).
        bounds: hash i holds rows ``bounds[i]:bounds[i+1]`` (ascending, first 0, last n).
        rdb_version: the target server's RDB version (read from its own ``DUMP`` output).

    Returns:
        One ``RESTORE`` payload per hash. Fields must be distinct within a hash: a validating
        server refuses a listpack with a repeated field ("Bad data format"), another would
        keep both.
    """
    _, offsets_buf, data_buf = rows.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[rows.offset : rows.offset + len(rows) + 1]
    cut = offsets[np.asarray(bounds)].tolist()
    counts = np.diff(bounds).tolist()
    raw = memoryview(data_buf) if data_buf is not None else memoryview(b"")
    version = struct.pack("<H", rdb_version)
    tail = bytes((_LP_END,)) + version
    parts: list[bytes | memoryview] = []
    sizes = []
    for start, end, count in zip(cut[:-1], cut[1:], counts, strict=True):
        size = LISTPACK_HEADER + (end - start) + 1
        head = (
            bytes((RDB_TYPE_HASH_LISTPACK,))
            + rdb_length(size)
            + struct.pack("<IH", size, min(2 * count, _LP_COUNT_UNKNOWN))
        )
        message = len(head) + (end - start) + len(tail)
        pad = -message % _CHUNK  # leading zeros align each message's end on a CRC chunk
        parts += (_ZEROS[:pad], head, raw[start:end], tail)
        sizes.append((pad, message))
    joined = b"".join(parts)
    crcs = _crc64_aligned(joined, [(pad + message) // _CHUNK for pad, message in sizes])
    crc_bytes = crcs.astype("<u8").tobytes()
    out = []
    position = 0
    for i, (pad, message) in enumerate(sizes):
        position += pad
        out.append(joined[position : position + message] + crc_bytes[8 * i : 8 * i + 8])
        position += message
    return out


def hash_payload(pairs: Iterable[tuple[bytes, bytes]], rdb_version: int) -> bytes:
    """One hash's ``DUMP`` payload from ``(field, value)`` pairs (distinct fields)."""
    import pyarrow as pa

    items = list(pairs)
    fields = pa.array([f for f, _ in items], pa.binary())
    values = pa.array([v for _, v in items], pa.binary())
    return hash_payloads(hash_entries(fields, values), np.array([0, len(items)]), rdb_version)[0]


# --------------------------------------------------------------------------- CRC-64/Jones


@functools.cache
def _byte_table() -> np.ndarray:
    """The classic reflected table: CRC state after one byte ``b`` from state 0."""
    table = np.arange(256, dtype=np.uint64)
    for _ in range(8):
        table = np.where(table & 1, (table >> np.uint64(1)) ^ np.uint64(CRC64_POLY), table >> 1)
    return table


def _zero_byte(states: np.ndarray) -> np.ndarray:
    """States after one more zero byte."""
    return _byte_table()[(states & np.uint64(0xFF)).astype(np.intp)] ^ (states >> np.uint64(8))


@functools.cache
def _position_table() -> np.ndarray:
    """``[j * 256 + b]``: contribution of byte ``b`` at column ``j`` of a chunk to its CRC."""
    rows = [_byte_table()]
    for _ in range(_CHUNK - 1):
        rows.append(_zero_byte(rows[-1]))
    return np.concatenate(rows[::-1])


_BYTE_SHIFTS = np.arange(0, 64, 8, dtype=np.uint64)


def _apply(states: np.ndarray, table: np.ndarray) -> np.ndarray:
    """A linear map on CRC states given as an (8 x 256) table over the state's bytes."""
    octets = ((states[:, None] >> _BYTE_SHIFTS) & np.uint64(0xFF)).astype(np.intp)
    return np.bitwise_xor.reduce(table[np.arange(0, 2048, 256) + octets], axis=1)


@functools.cache
def _shift_table(level: int) -> np.ndarray:
    """(8 x 256) table of ``state -> state after _CHUNK * 2**level zero bytes``."""
    basis = (np.arange(256, dtype=np.uint64)[None, :] << _BYTE_SHIFTS[:, None]).ravel()
    if level == 0:
        states = basis
        for _ in range(_CHUNK):
            states = _zero_byte(states)
        return states
    half = _shift_table(level - 1)
    return _apply(_apply(basis, half), half)


def _crc64_aligned(joined: bytes, chunks: Sequence[int]) -> np.ndarray:
    """CRCs of messages laid end to end, each zero-padded in front to whole chunks.

    Args:
        joined: the padded messages back to back (a multiple of the chunk size).
        chunks: how many chunks each message occupies.
    """
    grid = np.frombuffer(joined, dtype=np.uint8).reshape(-1, _CHUNK)
    table = _position_table()
    columns = np.arange(0, _CHUNK * 256, 256, dtype=np.intp)
    states = np.empty(len(grid), dtype=np.uint64)
    for lo in range(0, len(grid), _BLOCK_CHUNKS):
        block = grid[lo : lo + _BLOCK_CHUNKS]
        states[lo : lo + len(block)] = np.bitwise_xor.reduce(table[columns + block], axis=1)

    counts = np.asarray(chunks, dtype=np.int64)
    level = 0
    while (counts > 1).any():
        odd = counts % 2 == 1
        firsts = np.zeros(len(counts), dtype=np.int64)
        np.cumsum(counts[:-1], out=firsts[1:])
        states = np.insert(states, firsts[odd], np.uint64(0))  # a zero chunk in front: no-op
        pairs = states.reshape(-1, 2)
        states = _apply(pairs[:, 0], _shift_table(level)) ^ pairs[:, 1]
        counts = (counts + odd) // 2
        level += 1
    return states


def crc64_many(messages: Sequence[bytes]) -> np.ndarray:
    """CRC-64/Jones of every message, as uint64, computed together."""
    parts: list[bytes] = []
    chunks = []
    for message in messages:
        count = max(1, -(-len(message) // _CHUNK))
        parts += (_ZEROS[: count * _CHUNK - len(message)], message)
        chunks.append(count)
    return _crc64_aligned(b"".join(parts), chunks)


def crc64(data: bytes) -> int:
    """CRC-64/Jones of one message (``crc64(b"123456789") == 0xe9c6d914c4b8d9ca``)."""
    return int(crc64_many([data])[0])
