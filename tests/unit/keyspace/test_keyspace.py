"""Golden bytes of the Redis keyspace: any change here is a format change (keyspace.FORMAT)."""

from __future__ import annotations

import hashlib
import random
import string

import pytest

from idgraph.core import keyspace as ks

LOGIN = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def test_cookie_digest_golden() -> None:
    assert (
        ks.cookie_digest("news-site-01", "c-5f2b9a7e").hex() == "4c0efdd61f14e75bdb5b922784c3b1cf"
    )


def test_digest_separates_site_and_cookie() -> None:
    assert ks.cookie_digest("a", "bc").hex() == "50828405dc4eafbab43a23b8994da551"
    assert ks.cookie_digest("ab", "c").hex() == "b59aa4bd04674eb559ec18feaeddd7e7"


def test_login_digest_golden() -> None:
    assert ks.login_digest(LOGIN).hex() == "dcf2ef4cb85fc74f629f31b24ecacbae"


def test_cookie_location_golden() -> None:
    version = ks.GraphVersion("20240105.3", buckets=5000, login_buckets=7, cookies=10)
    key, field = ks.cookie_location(version, "news-site-01", "c-5f2b9a7e")
    assert key == b"idg:c:20240105.3:4635"
    assert field == bytes.fromhex("db5b922784c3b1")
    assert len(field) == ks.FIELD_SIZE == 7


def test_format_1_versions_keep_their_8_byte_fields() -> None:
    version = ks.GraphVersion("20240105.3", buckets=5000, login_buckets=7, format=1)
    assert ks.cookie_location(version, "news-site-01", "c-5f2b9a7e") == (
        b"idg:c:20240105.3:4635",
        bytes.fromhex("db5b922784c3b1cf"),
    )
    assert ks.login_location(version, LOGIN)[1] == bytes.fromhex("629f31b24ecacbae")  # type: ignore[index]


def test_login_location_golden_and_absent_index() -> None:
    version = ks.GraphVersion("20240105.3", buckets=5000, login_buckets=7)
    key, field = ks.login_location(version, LOGIN)  # type: ignore[misc]
    assert key == f"idg:l:20240105.3:{int('dcf2ef4cb85fc74f', 16) % 7}".encode()
    assert field == bytes.fromhex("629f31b24ecacb")
    assert ks.login_location(ks.GraphVersion("20240105.3", buckets=5), LOGIN) is None


@pytest.mark.parametrize(
    ("unified_id", "confidence", "golden"),
    [
        ("6f1c2e3a-1b2c-4d5e-8f90-123456789abc", 1.0, "05ff6f1c2e3a1b2c4d5e8f90123456789abc"),
        ("a1b2c3", 0.5, "0280a1b2c3"),
        ("0123", 1.0, "02ff0123"),
        ("18446744073709551615", 0.0, "0400ffffffffffffffff"),
        ("12", 0.5, "04800c"),
        ("u_3fa85f6457174562", 0.941, "03f002755f3fa85f6457174562"),
        ("person:42", 0.2, "033307706572736f6e3a42"),
        # The graph stage's ids: "u" + 24 hex -> 14 bytes instead of 27 (format 1: 16).
        ("u3fa85f6457174562aa01bc9d", 0.75, "06bf3fa85f6457174562aa01bc9d"),
        ("uab1", 0.0, "0300027561b1"),
        ("007", 0.3, "014c303037"),
        ("ab", float("nan"), "0200ab"),
        ("Ünïcode", 2.0, "01ffc39c6ec3af636f6465"),
    ],
)
def test_value_golden_and_round_trip(unified_id: str, confidence: float, golden: str) -> None:
    value = ks.encode_value(unified_id, confidence)
    assert value.hex() == golden
    decoded, conf = ks.decode_value(value)
    assert decoded == unified_id
    assert conf == round(ks.quantize_confidence(confidence) / 255, 3)


@pytest.mark.parametrize(
    ("unified_id", "household_id", "golden"),
    [
        # The graph's own ids: 20 bytes for the person and its household.
        (
            "u3fa85f6457174562aa01bc9d",
            "h9c01d2e3f4a5",
            "86bf" "9c01d2e3f4a5" "3fa85f6457174562aa01bc9d",
        ),
        ("u_3fa85f6457174562", "h9c01d2e3f4a5", "83bf9c01d2e3f4a502755f3fa85f6457174562"),
        # Any other household text: [len][UTF-8].
        ("u3fa85f6457174562aa01bc9d", "house-1", "46bf07686f7573652d313fa85f6457174562aa01bc9d"),
        ("007", "H9C01D2E3F4A5", "41bf" "0d" "48394330314432453346344135" "303037"),
        # No household (a graph without households): no flag, no bytes.
        ("u3fa85f6457174562aa01bc9d", None, "06bf3fa85f6457174562aa01bc9d"),
    ],
)  # fmt: skip
def test_household_value_golden_and_round_trip(
    unified_id: str, household_id: str | None, golden: str
) -> None:
    value = ks.encode_value(unified_id, 0.75, household_id)
    assert value.hex() == golden
    assert ks.decode_cookie(value) == (unified_id, 0.749, household_id)
    assert ks.decode_value(value) == (unified_id, 0.749)


@pytest.mark.parametrize(
    ("golden", "unified_id"),
    [
        ("03bf01753fa85f6457174562aa01bc9d", "u3fa85f6457174562aa01bc9d"),
        ("05ff6f1c2e3a1b2c4d5e8f90123456789abc", "6f1c2e3a-1b2c-4d5e-8f90-123456789abc"),
        ("03f002755f3fa85f6457174562", "u_3fa85f6457174562"),
    ],
)
def test_format_1_values_still_decode(golden: str, unified_id: str) -> None:
    """A rollback to a version published before households keeps answering."""
    uid, _, household = ks.decode_cookie(bytes.fromhex(golden))
    assert (uid, household) == (unified_id, None)


def test_values_round_trip_on_random_ids() -> None:
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits + "_:-"
    for _ in range(2000):
        uid = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        assert ks.decode_value(ks.encode_value(uid, 0.5))[0] == uid
        household = rng.choice([None, "h" + f"{rng.getrandbits(48):012x}", uid[::-1]])
        assert ks.decode_cookie(ks.encode_value(uid, 0.5, household))[::2] == (uid, household)


def test_unknown_tag_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown value tag"):
        ks.decode_value(b"\x7f\x00abc")


def test_live_pointer_golden() -> None:
    live = ks.GraphVersion("20240105.3", buckets=5000, login_buckets=7, cookies=10)
    raw = ks.encode_live(live, None)
    assert raw == (
        b'{"live":{"buckets":5000,"cookies":10,"day":"","format":2,"login_buckets":7,'
        b'"name":"20240105.3","person_buckets":0,"published_at":"","status":"live"},'
        b'"previous":null}'
    )
    assert ks.decode_live(raw) == (live, None)
    assert ks.decode_live(None) == (None, None)


def test_foreign_format_is_refused() -> None:
    data = ks.GraphVersion("20240105.3", buckets=1).to_dict() | {"format": 99}
    with pytest.raises(ValueError, match="format"):
        ks.GraphVersion.from_dict(data)
    old = ks.GraphVersion.from_dict(data | {"format": 1})  # published before households
    assert old.format == 1


def test_login_index_value_is_canonical() -> None:
    a, b = ks.cookie_digest("s", "1"), ks.cookie_digest("s", "2")
    assert ks.encode_digests([b, a, b]) == min(a, b) + max(a, b)
    assert ks.decode_digests(ks.encode_digests([a, b])) == sorted([a, b])


def test_bucket_count_and_version_name() -> None:
    assert ks.bucket_count(0, 200) == 1
    assert ks.bucket_count(401, 200) == 3
    assert ks.version_name("20240105", 12) == "20240105.12"
    with pytest.raises(ValueError):
        ks.version_name("2024-01-05", 1)


def test_keys_of_a_version() -> None:
    version = ks.GraphVersion("20240105.1", buckets=2, login_buckets=1, person_buckets=1)
    assert list(version.keys()) == [
        b"idg:c:20240105.1:0",
        b"idg:c:20240105.1:1",
        b"idg:l:20240105.1:0",
        b"idg:p:20240105.1:0",
    ]


def test_person_index_location() -> None:
    version = ks.GraphVersion("20240105.3", buckets=5000, person_buckets=7)
    digest = ks.person_digest("u_3fa85f6457174562")
    assert (
        digest
        == hashlib.blake2b(b"u_3fa85f6457174562", digest_size=16, person=b"idg-person").digest()
    )
    key, field = ks.person_location(version, "u_3fa85f6457174562")  # type: ignore[misc]
    assert key == f"idg:p:20240105.3:{int.from_bytes(digest[:8], 'big') % 7}".encode()
    assert field == digest[8:15]  # format 2: 7-byte fields
    # A version published before the person index: no location, the opt-out names one cookie.
    assert ks.person_location(ks.GraphVersion("20240105.3", buckets=5), "u_1") is None


def test_versions_without_a_person_index_still_load() -> None:
    old = {"name": "20240105.1", "buckets": 3, "login_buckets": 1, "format": 1}
    assert ks.GraphVersion.from_dict(old).person_buckets == 0


def test_optout_entry() -> None:
    entry = ks.optout_entry(kind="cookie", site_id="s", cookie_id="c", requested_at="t")
    assert ks.parse_optout({k.encode(): v.encode() for k, v in entry.items()}) == entry
    with pytest.raises(ValueError):
        ks.optout_entry(kind="cookie", site_id="s", requested_at="t")
    with pytest.raises(ValueError):
        ks.optout_entry(kind="email", login_hash="x", requested_at="t")
