"""The driver-side reasoning of ``idgraph explain``: paths, trees, over-merge steps, guardrails."""

from __future__ import annotations

import datetime as dt

import pytest

from idgraph.core.settings import GraphSettings
from spark_jobs.graph.explain import (
    LOGIN,
    SCORED,
    SESSION_RULE,
    Edge,
    ExplainError,
    Neighbourhood,
    analyse_component,
    overmerge_step,
    parse_cookie,
    short_login,
    spanning_tree,
    widest_path,
)

GS = GraphSettings(max_component_size=4, generic_login_max_cookies=3)


def k(name: str) -> tuple[str, str]:
    return ("s", name)


def scored(a: str, b: str, score: float, threshold: float = 0.5) -> Edge:
    return Edge(k(a), k(b), SCORED, score, threshold, model_version="1")


@pytest.mark.parametrize(
    ("edges", "expected", "weakest"),
    [
        # The direct edge is weaker than the two-edge detour: the widest path takes the detour.
        ([scored("a", "b", 0.55), scored("a", "c", 0.9), scored("c", "b", 0.8)], "acb", 0.8),
        # Same bottleneck both ways: the shorter path wins.
        ([scored("a", "b", 0.7), scored("a", "c", 0.9), scored("c", "b", 0.7)], "ab", 0.7),
        # A login edge outweighs every score.
        (
            [
                scored("a", "b", 0.99),
                Edge(k("a"), k("c"), LOGIN, login_hash="f" * 64),
                Edge(k("c"), k("b"), LOGIN, login_hash="f" * 64),
            ],
            "acb",
            2.0,
        ),  # fmt: skip
    ],
)
def test_widest_path(edges: list[Edge], expected: str, weakest: float) -> None:
    path = widest_path(edges, k("a"), k("b"), login_weight=2.0)
    assert path is not None
    nodes = [path[0].a] + [e.b for e in path]
    assert "".join(n[1] for n in nodes) == expected  # oriented from a to b
    assert min(e.weight(2.0) for e in path) == weakest


def test_no_path_between_unconnected_cookies() -> None:
    assert widest_path([scored("a", "b", 0.9), scored("c", "d", 0.9)], k("a"), k("d"), 2.0) is None


def test_spanning_tree_gives_each_cookie_its_strongest_way_in() -> None:
    edges = [scored("a", "b", 0.6), scored("a", "c", 0.9), scored("c", "b", 0.8),
             Edge(k("d"), k("c"), SESSION_RULE, 0.8, 0.8)]  # fmt: skip
    tree = spanning_tree(edges, k("a"), login_weight=2.0)
    assert [(e.a[1], e.b[1], e.score) for e in tree] == [
        ("a", "c", 0.9),
        ("c", "b", 0.8),
        ("c", "d", 0.8),
    ]


@pytest.mark.parametrize(
    ("cut_scores", "step"),
    [
        ([], 0),
        ([0.52], 1),  # 0.52 < 0.5 + 0.05
        ([0.6, 0.52], 3),  # 0.6 >= 0.5 + 2 x 0.05
        ([0.99], 9),  # survives every raised threshold: deterministic links only (K + 1)
    ],
)
def test_overmerge_step(cut_scores: list[float], step: int) -> None:
    assert overmerge_step([scored("a", f"x{i}", s) for i, s in enumerate(cut_scores)], GS) == step


def _hood(edges: list[Edge], uids: dict[str, str], **kw: object) -> Neighbourhood:
    graph = {k(c): {"unified_id": u} for c, u in uids.items()}
    members: dict[str, list[tuple[str, str]]] = {}
    for c, u in uids.items():
        members.setdefault(u, []).append(k(c))
    values: dict[str, object] = {
        "day": dt.date(2026, 1, 1), "queried": [], "graph": graph, "members": members,
        "logins": {}, "login_stats": {}, "edges": edges, "dropped_login_conflict": [],
        "dropped_gone": [], "direct": None, "verdicts": [], "opted_out": {}, "yesterday": {},
        "health": {}, "has_household": False, "model_version": "1", "threshold": 0.5,
    }  # fmt: skip
    values.update(kw)
    return Neighbourhood(**values)  # type: ignore[arg-type]


def test_an_overmerge_split_keeps_only_edges_above_the_raised_threshold() -> None:
    # a-b-c hold together at 0.9; c-d at 0.6 was cut; a-c at 0.58 is inside but below the
    # raised threshold (0.5 + 3 x 0.05), so it held nothing together.
    edges = [scored("a", "b", 0.9), scored("b", "c", 0.9), scored("a", "c", 0.58),
             scored("c", "d", 0.6)]  # fmt: skip
    hood = _hood(edges, {"a": "U", "b": "U", "c": "U", "d": "V"})
    view = analyse_component(hood, "U", GS)
    assert view.step == 3
    assert {(e.a[1], e.b[1]) for e in view.kept} == {("a", "b"), ("b", "c")}
    assert [(e.b[1], why) for e, why in view.cut] == [("d", "over-merge")]
    (rail,) = view.guardrails
    assert rail["kind"] == "over-merge split" and rail["raised_thresholds"] == [0.65]


def test_a_verdict_explains_a_cut_and_generic_logins_and_opt_outs_are_named() -> None:
    g = "9" * 64
    edges = [scored("a", "b", 0.9), scored("b", "c", 0.95)]
    hood = _hood(
        edges,
        {"a": "U", "b": "U", "c": "V"},
        verdicts=[(k("a"), k("c"))],
        logins={k("a"): g},
        login_stats={g: (10, 2)},
        dropped_gone=[(k("b"), "opted out")],
    )
    view = analyse_component(hood, "U", GS)
    assert view.step == 0
    assert [(e.b[1], why) for e, why in view.cut] == [("c", "feedback")]
    kinds = {r["kind"]: r for r in view.guardrails}
    assert set(kinds) == {"feedback cannot-link", "generic login", "opt-out"}
    assert kinds["generic login"]["login_hash"] == short_login(g) == "99999999…"
    assert g not in str(view.guardrails)  # a login hash is only ever shown truncated
    assert kinds["opt-out"]["pairs"] == 1


@pytest.mark.parametrize("bad", ["nosite", "/c", "s/", ""])
def test_cookie_references_are_site_slash_cookie(bad: str) -> None:
    with pytest.raises(ExplainError):
        parse_cookie(bad)


def test_cookie_ids_may_hold_slashes() -> None:
    assert parse_cookie("news.example/GA1.2/3") == ("news.example", "GA1.2/3")
