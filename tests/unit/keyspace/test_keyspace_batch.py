"""The vectorised cookie encoder must give exactly the bytes of the scalar keyspace functions."""

from __future__ import annotations

import math
import random

import pyarrow as pa
import pytest

from idgraph.core import keyspace as ks
from idgraph.core import keyspace_batch as kb


def _scalar(batch: pa.RecordBatch, buckets: int) -> list[tuple[int, bytes, bytes]]:
    rows = batch.to_pylist()
    out = []
    for row in rows:
        digest = ks.cookie_digest(row["site_id"], row["cookie_id"])
        value = ks.encode_value(row["unified_id"], row["confidence"], row.get("household_id"))
        out.append((ks.bucket_of(digest, buckets), ks.field_of(digest), value))
    return out


def _vectorised(batch: pa.RecordBatch, buckets: int) -> list[tuple[int, bytes, bytes]]:
    encoded = kb.encode_cookie_batch(batch, buckets)
    assert encoded.schema == pa.schema(
        [("bucket", pa.int32()), ("field", pa.binary()), ("value", pa.binary())]
    )
    return list(zip(*(encoded.column(i).to_pylist() for i in range(3)), strict=True))


def _batch(rows: list[tuple]) -> pa.RecordBatch:
    names = ["site_id", "cookie_id", "unified_id", "confidence", "household_id"][: len(rows[0])]
    return pa.RecordBatch.from_arrays(
        [
            pa.array([r[i] for r in rows], pa.string() if i == 4 else None)
            for i in range(len(names))
        ],
        names=names,
    )


def test_graph_ids_match_the_scalar_encoder_on_random_rows() -> None:
    rng = random.Random(17)
    rows = [
        (
            rng.choice(["news.example", "shop.example", "ünï.example", ""]),
            f"{rng.getrandbits(128):032x}"[: rng.randint(0, 32)],
            "u" + f"{rng.getrandbits(96):024x}",
            rng.choice([rng.random(), 0.0, 1.0, 0.5 / 255, 1.5 / 255, 2.5 / 255, -0.2, 7.0]),
            "h" + f"{rng.getrandbits(48):012x}",
        )
        for _ in range(3000)
    ]
    batch = _batch(rows)
    assert _vectorised(batch, 997) == _scalar(batch, 997)
    assert _vectorised(batch.slice(1000, 500), 3) == _scalar(batch.slice(1000, 500), 3)
    assert {len(v) for _, _, v in _vectorised(batch, 997)} == {20}
    assert {len(f) for _, f, _ in _vectorised(batch, 997)} == {ks.FIELD_SIZE}


@pytest.mark.parametrize(
    "household_id",
    [None, "H9c01d2e3f4a5", "h9c01d2e3f4a", "h9c01d2e3f4a5x", "house-1", "hé01d2e3f4a5"],
)
def test_other_households_go_through_the_scalar_encoder(household_id: str | None) -> None:
    rows = [
        ("s", "c1", "u" + "ab" * 12, 0.5, household_id),
        ("s", "c2", "u" + "cd" * 12, 0.25, "h" + "01" * 6),
    ]
    batch = _batch(rows)
    assert _vectorised(batch, 7) == _scalar(batch, 7)
    assert ks.decode_cookie(_vectorised(batch, 7)[0][2])[2] == household_id


@pytest.mark.parametrize(
    "unified_id",
    [
        "u3fa85f6457174562aa01bc9d",  # the graph format: vectorised
        "U3fa85f6457174562aa01bc9d",  # upper-case prefix: still tag 3, scalar path
        "u3FA85F6457174562AA01BC9D",  # upper-case hex: tag 1
        "u3fa85f6457174562aa01bc9",  # odd hex length
        "u3fa85f6457174562aa01bc9dd",
        "x3fa85f6457174562aa01bc9d",
        "u3fa85f6457174562aa01bc9g",
        "6f1c2e3a-1b2c-4d5e-8f90-123456789abc",
        "12",
        "a1b2c3",
        "Ünïcode",
        "",
    ],
)
def test_other_ids_take_the_scalar_path_with_the_same_bytes(unified_id: str) -> None:
    rows = [("s", "c1", unified_id, 0.75), ("s", "c2", "u" + "ab" * 12, float("nan"))]
    assert _vectorised(_batch(rows), 10) == _scalar(_batch(rows), 10)


def test_nulls_and_infinite_confidences_behave_as_before() -> None:
    with pytest.raises(OverflowError):
        ks.encode_value("u" + "ab" * 12, math.inf)
    with pytest.raises(OverflowError):
        kb.encode_cookie_batch(_batch([("s", "c", "u" + "ab" * 12, math.inf)]), 10)
    with pytest.raises((TypeError, AttributeError)):
        kb.encode_cookie_batch(_batch([("s", None, "u" + "ab" * 12, 0.5)]), 10)  # type: ignore[list-item]


def test_golden_cookie_row() -> None:
    batch = _batch([("news-site-01", "c-5f2b9a7e", "u3fa85f6457174562aa01bc9d", 0.75)])
    assert _vectorised(batch, 5000) == [
        (4635, bytes.fromhex("db5b922784c3b1"), bytes.fromhex("06bf3fa85f6457174562aa01bc9d"))
    ]
    with_household = _batch(
        [("news-site-01", "c-5f2b9a7e", "u3fa85f6457174562aa01bc9d", 0.75, "h9c01d2e3f4a5")]
    )
    assert _vectorised(with_household, 5000)[0][2] == bytes.fromhex(
        "86bf9c01d2e3f4a53fa85f6457174562aa01bc9d"
    )
