"""Connected components against scipy's oracle on seeded graphs of every awkward shape."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as scipy_cc

from spark_jobs.graph.connected_components import (
    large_small_star,
    resolve_implementation,
)

pytestmark = pytest.mark.spark


def _random_graph(seed: int, n: int, m: int) -> tuple[int, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return n, rng.integers(0, n, m), rng.integers(0, n, m)


def _chain(seed: int, n: int) -> tuple[int, np.ndarray, np.ndarray]:
    # A path visiting vertices in a random order: large diameter, ids not sorted along it.
    order = np.random.default_rng(seed).permutation(n)
    return n, order[:-1], order[1:]


def _stars(seed: int, hubs: int, leaves: int) -> tuple[int, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = hubs * (leaves + 1) + 5  # the last five are isolated
    hub = np.repeat(np.arange(hubs) * (leaves + 1), leaves)
    leaf = hub + np.tile(np.arange(1, leaves + 1), hubs)
    # Tie two hubs together through a leaf so one component has two hubs.
    src = np.append(hub, leaf[rng.integers(0, len(leaf))])
    dst = np.append(leaf, 0 if hubs == 1 else leaves + 1)
    return n, src, dst


def _ids(n: int, seed: int) -> np.ndarray:
    """Deterministic, scattered, signed 64-bit ids like xxhash64 gives (not 0..n-1)."""
    rng = np.random.default_rng(seed + 10_000)
    ids = rng.choice(np.iinfo(np.int64).max, size=n, replace=False)
    return ids * rng.choice([-1, 1], size=n)


def _disjoint_union(
    *graphs: tuple[int, np.ndarray, np.ndarray],
) -> tuple[int, np.ndarray, np.ndarray]:
    n, srcs, dsts = 0, [], []
    for size, src, dst in graphs:
        srcs.append(src + n)
        dsts.append(dst + n)
        n += size
    return n, np.concatenate(srcs).astype(int), np.concatenate(dsts).astype(int)


def _every_shape(seed: int) -> tuple[int, np.ndarray, np.ndarray]:
    """One graph holding every awkward shape, so one Spark run checks them all."""
    return _disjoint_union(
        _random_graph(seed, 400, 300),  # many small trees and a few cycles
        _random_graph(seed + 100, 150, 450),  # one dense giant component
        _chain(seed, 600),  # large diameter: the most rounds
        _stars(seed, 4, 40),  # hubs, two of them joined through a leaf
        (30, np.array([], dtype=int), np.array([], dtype=int)),  # isolated vertices
    )


def _partition(labels: dict[int, int]) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for vertex, label in labels.items():
        groups.setdefault(label, set()).add(vertex)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize(
    ("seed", "prune_every"),
    [(1, 1), (2, 0), (3, 2)],
    ids=["seed1-prune1", "seed2-noprune", "seed3-prune2"],
)
def test_matches_scipy(spark, seed: int, prune_every: int) -> None:  # type: ignore[no-untyped-def]
    n, src, dst = _every_shape(seed)
    ids = _ids(n, seed)
    _, expected_labels = scipy_cc(
        coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n)), directed=False
    )
    expected = _partition({int(ids[i]): int(expected_labels[i]) for i in range(n)})

    edges = spark.createDataFrame(
        [(int(ids[a]), int(ids[b])) for a, b in zip(src, dst, strict=True)],
        "src long, dst long",
    )
    vertices = spark.createDataFrame([(int(i),) for i in ids], "id long")
    result = large_small_star(edges, vertices, prune_every=prune_every)
    rows = result.components.collect()

    got = {r.id: r.component for r in rows}
    assert len(rows) == n == len(got)  # every vertex exactly once
    assert _partition(got) == expected
    # The label is the smallest id of its component (GraphFrames labels the same way).
    for group in expected:
        assert {got[v] for v in group} == {min(group)}
    assert result.iterations <= 25  # logarithmic in the 600-long chain, not linear


def test_implementation_selection() -> None:
    assert resolve_implementation("dataframe", graphframes_present=True) == "dataframe"
    assert resolve_implementation("auto", graphframes_present=False) == "dataframe"
    assert resolve_implementation("auto", graphframes_present=True) == "graphframes"
    assert resolve_implementation("graphframes", graphframes_present=True) == "graphframes"
    with pytest.raises(RuntimeError, match="--packages"):
        resolve_implementation("graphframes", graphframes_present=False)
    with pytest.raises(ValueError):
        resolve_implementation("pregel", graphframes_present=True)
