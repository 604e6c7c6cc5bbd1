"""The label study's graph judge and label variants (pure pandas, no Spark)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.label_study import GraphJudge, best_at, labelled

# Person 1: a (login L1), b (anonymous), e (login L1); person 2: c (anonymous), d (login L2);
# f: a shared device of person 1, never judged.
COOKIES = pd.DataFrame(
    {
        "key": ["s\u0001a", "s\u0001b", "s\u0001c", "s\u0001d", "s\u0001e", "s\u0001f"],
        "login_hash": ["L1", None, None, "L2", "L1", None],
        "person_id": [1, 1, 2, 2, 1, 1],
        "shared": [False, False, False, False, False, True],
    }
)


def _pairs(*edges: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site_id_l": "s",
            "cookie_id_l": [left for left, _ in edges],
            "site_id_r": "s",
            "cookie_id_r": [right for _, right in edges],
        }
    )


def test_deterministic_links_alone_join_the_same_login():
    judge = GraphJudge(COOKIES)
    assert judge.score(np.empty(0, int), np.empty(0, int)) == (1, 1)  # a-e
    assert judge.det_correct == 1


def test_sweep_adds_best_edges_first_and_never_joins_two_logins():
    judge = GraphJudge(COOKIES)
    test = _pairs(("a", "d"), ("a", "b"), ("b", "c"), ("a", "f"))
    sweep = judge.sweep(test, np.array([0.99, 0.9, 0.5, 0.1]), counts=(1, 2, 3, 4))
    got = [(r["precision"], r["recall_vs_deterministic"]) for r in sweep]
    # K=1: a-d joins two logins and is dropped; K=2: {a,b,e}; K=3: c joins wrongly (3 of 6
    # pairs right); K=4: the shared cookie f joins but is not judged.
    assert got == [(1.0, 1.0), (1.0, 3.0), (0.5, 3.0), (0.5, 3.0)]
    assert best_at(sweep, 0.95)["edges"] == 2
    assert best_at(sweep, 1.01) is None


def test_label_variants():
    train = pd.DataFrame(
        {
            "login_hash_l": ["L1", "L1", None, "L3"],
            "login_hash_r": ["L1", "L2", "L1", "L3"],
            "person_id_l": [1, 1, 1, 3],
            "person_id_r": [1, 1, 1, 4],
            "shared_l": [False, False, False, True],
            "shared_r": [False, False, False, False],
        }
    )
    rows, y = labelled(train, "login")
    assert list(rows.index) == [0, 1, 3] and list(y) == [1, 0, 1]
    rows, y = labelled(train, "login_without_shared_devices")
    assert list(rows.index) == [0, 1] and list(y) == [1, 0]
    rows, y = labelled(train, "truth_on_login_pairs")
    assert list(rows.index) == [0, 1, 3] and list(y) == [1, 1, 0]
    rows, y = labelled(train, "truth_on_all_pairs")
    assert len(rows) == 4 and list(y) == [1, 1, 1, 0]
