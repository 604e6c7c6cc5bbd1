"""The per-key cap on the weight of feedback labels (pure Python)."""

from __future__ import annotations

import random

import pytest

from spark_jobs.common.feedback import key_weights

SEED = 11  # the random count tables below are drawn from this seed


def _shares(counts: dict[str, int], weights: dict[str, float]) -> dict[str, float]:
    total = sum(counts[k] * weights[k] for k in counts)
    return {k: counts[k] * weights[k] / total for k in counts}


def test_no_cap_needed_keeps_weight_one() -> None:
    counts = {f"k{i}": 10 for i in range(10)}
    assert key_weights(counts, 0.1) == dict.fromkeys(counts, 1.0)


def test_one_loud_key_is_capped_at_the_share() -> None:
    counts = {"loud": 1000, **{f"k{i}": 10 for i in range(20)}}
    weights = key_weights(counts, 0.1)
    assert _shares(counts, weights)["loud"] == pytest.approx(0.1)
    assert all(weights[f"k{i}"] == 1.0 for i in range(20))
    # 0.1 of (C + 200) = C  ->  C = 200 / 9 of the loud key's 1000 verdicts
    assert weights["loud"] == pytest.approx((200 / 9) / 1000)


def test_random_tables_never_exceed_the_share() -> None:
    rng = random.Random(SEED)
    for _ in range(500):
        share = rng.choice([0.05, 0.1, 0.25, 0.5])
        keys = rng.randint(1, 40)
        counts = {f"k{i}": rng.choice([1, 2, 5, 50, 500]) for i in range(keys)}
        weights = key_weights(counts, share)
        assert all(0 < w <= 1 for w in weights.values())
        shares = _shares(counts, weights)
        if keys * share >= 1:
            assert max(shares.values()) <= share + 1e-9
        else:  # no cap can hold: every key weighs the same
            assert max(shares.values()) == pytest.approx(1 / keys)


def test_empty() -> None:
    assert key_weights({}, 0.1) == {}
