"""Cannot-link constraints: the per-component split (pure pandas; the Spark wrapper runs in
``tests/integration/test_feedback_graph.py``)."""

from __future__ import annotations

import random

import networkx as nx
import pandas as pd
import pytest

from spark_jobs.graph.cannot_link import split_component

SEED = 20261107  # the random graphs below are drawn from this seed


def _rows(vertices, edges, cannot) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    rows = [("v", u, 0, 0.0) for u in vertices]
    rows += [("e", u, v, w) for u, v, w in edges]
    rows += [("c", u, v, 0.0) for u, v in cannot]
    frame = pd.DataFrame(rows, columns=["kind", "u", "v", "w"])
    frame.insert(0, "component", 0)
    return frame


def _parts(vertices, edges, cannot) -> dict[int, int]:  # type: ignore[no-untyped-def]
    out = split_component(_rows(vertices, edges, cannot))
    return dict(zip(out["id"], out["part"], strict=True))


@pytest.mark.parametrize(
    ("edges", "cannot", "expected"),
    [
        # a chain cut at its weakest edge between the two: 1-2 strong, 2-3 weak, 3-4 strong
        ([(1, 2, 0.9), (2, 3, 0.6), (3, 4, 0.95)], [(1, 4)], {1: 1, 2: 1, 3: 3, 4: 3}),
        # the weak edge lies outside the path between the pair: the path is cut instead
        ([(1, 2, 0.7), (2, 3, 0.9), (3, 4, 0.2)], [(1, 2)], {1: 1, 2: 2, 3: 2, 4: 2}),
        # a login vertex (10) joins two cookies with a weight above any score; a scored edge
        # is cut first when one can separate them
        ([(1, 10, 2.0), (3, 10, 2.0), (3, 4, 0.9)], [(1, 4)], {1: 1, 10: 1, 3: 1, 4: 4}),
        # the two share the login directly: the verdict wins, a login edge is cut
        ([(1, 10, 2.0), (3, 10, 2.0)], [(1, 3)], {1: 1, 10: 1, 3: 3}),
        # a cycle: both paths between the pair are cut, each at its weakest edge
        ([(1, 2, 0.9), (2, 3, 0.5), (3, 4, 0.9), (4, 1, 0.6)], [(1, 3)], {1: 1, 2: 1, 3: 3, 4: 3}),
    ],
)
def test_split_component_cases(edges, cannot, expected) -> None:  # type: ignore[no-untyped-def]
    vertices = sorted({u for u, v, _ in edges} | {v for _, v, _ in edges})
    assert _parts(vertices, edges, cannot) == expected


def test_split_component_on_random_graphs_against_networkx() -> None:
    rng = random.Random(SEED)
    for trial in range(200):
        n = rng.randint(2, 30)
        graph = nx.gnm_random_graph(n, rng.randint(n - 1, 3 * n), seed=rng.randint(0, 2**31))
        if not nx.is_connected(graph):
            graph = nx.compose(graph, nx.path_graph(n))  # one component, as the job gives
        edges = [(u, v, rng.choice([0.55, 0.6, 0.7, 0.8, 0.9, 2.0])) for u, v in graph.edges]
        cannot = []
        for _ in range(rng.randint(1, 4)):
            a, b = rng.sample(range(n), 2)
            cannot.append((a, b))
        parts = _parts(list(range(n)), edges, cannot)
        assert set(parts) == set(range(n)), trial
        assert all(parts[a] != parts[b] for a, b in cannot), trial
        for label in set(parts.values()):
            members = [x for x in parts if parts[x] == label]
            assert label == min(members), trial
            assert nx.is_connected(graph.subgraph(members)), trial  # parts stay connected
        # Maximal: any two neighbouring parts would join the two cookies of a verdict.
        kept = [(u, v) for u, v, _ in edges if parts[u] == parts[v]]
        merged = nx.Graph(kept)
        merged.add_nodes_from(range(n))
        for u, v, _ in edges:
            pu, pv = parts[u], parts[v]
            if pu != pv:
                union = {x for x in parts if parts[x] in (pu, pv)}
                assert any({a, b} <= union for a, b in cannot), trial
