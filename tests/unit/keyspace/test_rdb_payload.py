"""Golden bytes of the RESTORE payloads (listpack hashes) and of the vectorised CRC-64.

The goldens come from the real server: ``DUMP`` of the same hash on valkey-server 9.1 (RDB
version 80, ``rdbcompression no``). ``tests/integration/test_redis_restore.py`` checks the
same equality against a live server for many more shapes.
"""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from idgraph.core import rdb_payload as rdb


def _crc64_bitwise(data: bytes) -> int:
    """Reference CRC-64/Jones, one bit at a time (reflected, init 0, no final xor)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ rdb.CRC64_POLY if crc & 1 else crc >> 1
    return crc


def test_crc64_check_value() -> None:
    assert rdb.crc64(b"123456789") == 0xE9C6D914C4B8D9CA  # Redis's crc64 self-test
    assert rdb.crc64(b"") == 0


def test_crc64_many_matches_the_bitwise_reference() -> None:
    rng = random.Random(3)  # lengths around the 128-byte chunks and the pairwise merge levels
    lengths = [0, 1, 9, 127, 128, 129, 255, 256, 257, 383, 1000, 4097, 6000, 33000]
    messages = [rng.randbytes(n) for n in lengths + [rng.randrange(20000) for _ in range(20)]]
    assert [int(c) for c in rdb.crc64_many(messages)] == [_crc64_bitwise(m) for m in messages]


def test_crc64_ignores_leading_zeros_only() -> None:
    assert rdb.crc64(bytes(300) + b"123456789") == rdb.crc64(b"123456789")
    assert rdb.crc64(b"123456789" + bytes(1)) != rdb.crc64(b"123456789")


@pytest.mark.parametrize(
    ("n", "golden"),
    [
        (0, "00"),
        (63, "3f"),
        (64, "4040"),
        (16383, "7fff"),
        (16384, "8000004000"),
        (2**32 - 1, "80ffffffff"),
        (2**32, "810000000100000000"),
    ],
)
def test_rdb_length_golden(n: int, golden: str) -> None:
    assert rdb.rdb_length(n).hex() == golden


@pytest.mark.parametrize(
    ("length", "head", "back"),
    [
        (0, "80", "01"),
        (8, "88", "09"),
        (63, "bf", "40"),
        (64, "e040", "42"),
        (125, "e07d", "7f"),  # entry size 127: the largest one-byte backlen
        (126, "e07e", "0180"),  # size 128
        (4095, "efff", "2081"),
        (4096, "f000100000", "2085"),
        (16378, "f0fa3f0000", "7fff"),  # size 16383: still two bytes (what the server writes)
        (16379, "f0fb3f0000", "018080"),  # size 16384: three
    ],
)
def test_entry_framing_golden(length: int, head: str, back: str) -> None:
    heads, backs = rdb.entry_framing(np.array([length, 8]))
    assert heads[0].as_py().hex() == head
    assert backs[0].as_py().hex() == back
    assert (heads[1].as_py(), backs[1].as_py()) == (b"\x88", b"\x09")


def test_hash_payload_golden() -> None:
    # DUMP of ``HSET h abcdefgh value1`` on valkey 9.1, byte for byte.
    golden = [
        "10",  # RDB type: hash as listpack
        "19",  # RDB length of the listpack: 25
        "19000000" "0200",  # listpack header: 25 bytes, 2 elements
        "88" "6162636465666768" "09",  # field entry: 8-byte string, backlen 9
        "86" "76616c756531" "07",  # value entry
        "ff",  # listpack end
        "5000",  # RDB version 80
        "89ddf75949956b24",  # CRC-64 of all the above, little-endian
    ]  # fmt: skip
    assert rdb.hash_payload([(b"abcdefgh", b"value1")], 80).hex() == "".join(golden)


def test_hash_payloads_of_many_hashes_equal_one_at_a_time() -> None:
    rng = random.Random(8)
    pairs = [(rng.randbytes(8), rng.randbytes(rng.choice([3, 16, 70, 5000]))) for _ in range(40)]
    bounds = np.array([0, 1, 7, 7 + 30, 40])
    rows = rdb.hash_entries(
        pa.array([f for f, _ in pairs], pa.binary()), pa.array([v for _, v in pairs], pa.binary())
    )
    many = rdb.hash_payloads(rows, bounds, 80)
    one = [rdb.hash_payload(pairs[a:b], 80) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    assert many == one


def test_hash_entries_take_sliced_and_large_binary_arrays() -> None:
    fields = pa.array([b"f0", b"f1", b"f2"], pa.large_binary()).slice(1)
    values = pa.array([b"x", b"v1", b"v2"], pa.binary()).slice(1)
    assert rdb.hash_entries(fields, values).to_pylist() == [
        b"\x82f1\x03\x82v1\x03",
        b"\x82f2\x03\x82v2\x03",
    ]
    with pytest.raises(ValueError, match="null"):
        rdb.hash_entries(pa.array([None], pa.binary()), pa.array([b"v"], pa.binary()))


def test_listpack_element_count_saturates() -> None:
    def header(fields: int) -> bytes:
        pairs = [(i.to_bytes(8, "big"), b"v") for i in range(fields)]
        payload = rdb.hash_payload(pairs, 80)
        return payload[6:12]  # after type 16 and the 5-byte RDB length: the listpack header

    assert int.from_bytes(header(32767)[4:6], "little") == 65534
    assert int.from_bytes(header(32768)[4:6], "little") == 65535  # "unknown": count by scan
    assert int.from_bytes(header(32768)[:4], "little") == 6 + 32768 * (10 + 3) + 1
