"""``idgraph explain``: why a cookie has its unified ID, or why two cookies share one (or not).

Puts together the rebuilt component (``spark_jobs.graph.explain``) and the model's feature
contributions for the scored edges it names (``training.contributions``), as one plain dict
(``--json``) that ``render`` turns into tables. See ``docs/explain.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from idgraph.core.lake import Lake
from idgraph.core.model_registry import load_model_version
from idgraph.core.settings import AppSettings
from spark_jobs.common.io import partition_exists, read_partition
from spark_jobs.common.schemas import PAIR_KEYS
from spark_jobs.graph.explain import (
    LOGIN,
    SCORED,
    ExplainError,
    analyse_component,
    gather,
    parse_cookie,
    ref,
    short_login,
    spanning_tree,
    widest_path,
)
from training.contributions import SCORE_TOLERANCE, contributions, pair_feature_rows

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from rich.console import RenderableType

    from spark_jobs.graph.explain import ComponentView, Edge, Key, Neighbourhood

Step = Callable[[str], None]


def sample_link(spark: SparkSession, settings: AppSettings, day: dt.date) -> list[str] | None:
    """Two cookies that one kept scored edge of ``day`` joins (a hash order picks it), or None
    when the day has none."""
    from pyspark.sql import functions as F

    lake = Lake(settings.lake.root)
    if not partition_exists(spark, lake, "scored_pairs", day):
        return None
    order = F.xxhash64(*PAIR_KEYS, F.lit(settings.graph.explain_sample_seed))
    picked = (
        read_partition(spark, lake, "scored_pairs", day)
        .where(F.col("score") >= F.col("threshold"))
        .orderBy(order)
        .limit(50)
    )
    graph = read_partition(spark, lake, "identity_graph", day).select(
        "site_id", "cookie_id", "unified_id"
    )
    same = (
        picked.join(graph.toDF("site_id_l", "cookie_id_l", "_ul"), ["site_id_l", "cookie_id_l"])
        .join(graph.toDF("site_id_r", "cookie_id_r", "_ur"), ["site_id_r", "cookie_id_r"])
        .where(F.col("_ul") == F.col("_ur"))
        .orderBy(order)
        .first()
    )
    if same is None:
        return None
    return [
        f"{same['site_id_l']}/{same['cookie_id_l']}",
        f"{same['site_id_r']}/{same['cookie_id_r']}",
    ]


def _edge(e: Edge, contribs: dict[Any, dict[str, Any]], status: str = "kept") -> dict[str, Any]:
    out: dict[str, Any] = {
        "from": ref(e.a),
        "to": ref(e.b),
        "kind": e.kind,
        "score": e.score,
        "threshold": e.threshold,
        "status": status,
    }
    if e.login_hash:
        out["login"] = short_login(e.login_hash)
    if e.evidence:
        out["evidence"] = dict(e.evidence)
    if e.kind == SCORED:
        out["model_version"] = e.model_version
        out["contributions"] = contribs.get(e.pair())
    return out


def _weakest(edges: Sequence[Edge], login_weight: float) -> int | None:
    if not edges:
        return None
    return min(range(len(edges)), key=lambda i: (edges[i].weight(login_weight), i))


def _describe(e: dict[str, Any]) -> str:
    if e["kind"] == "login":
        return f"{e['from']} - {e['to']} (login {e['login']})"
    return f"{e['from']} - {e['to']} ({e['kind']}, score {e['score']:.4f})"


def explain(
    spark: SparkSession,
    settings: AppSettings,
    day: dt.date,
    cookies: Sequence[str],
    *,
    on_step: Step | None = None,
) -> dict[str, Any]:
    """The explanation of one or two cookies (``SITE/COOKIE``) on ``day`` as a plain dict.

    Raises:
        spark_jobs.graph.explain.ExplainError: no graph for the day, or a malformed cookie.
    """

    def step(what: str) -> None:
        if on_step is not None:
            on_step(what)

    if not 1 <= len(cookies) <= 2:
        raise ExplainError("explain takes one or two cookies")
    keys = [parse_cookie(c) for c in cookies]
    if len(keys) == 2 and keys[0] == keys[1]:
        raise ExplainError("the two cookies are the same cookie")
    gs = settings.graph
    login_weight = gs.feedback_cut_weight_deterministic
    step("reading the graph and the components' edges")
    hood = gather(spark, settings, day, keys)
    views = {uid: analyse_component(hood, uid, gs) for uid in hood.members}

    rows = [_cookie_row(hood, k) for k in keys]
    out: dict[str, Any] = {
        "day": day.isoformat(),
        "lake": settings.lake.root,
        "cookies": rows,
        "model": {"version": hood.model_version, "threshold": hood.threshold},
    }
    to_explain: list[Edge] = []
    answer: str
    present = [k for k in keys if k in hood.graph]
    if len(keys) == 1:
        key = keys[0]
        if key not in hood.graph:
            answer = _absent(hood, key)
            out |= {"linked": None, "tree": []}
        else:
            view = views[hood.graph[key]["unified_id"]]
            tree = spanning_tree(view.kept, key, login_weight)
            to_explain += tree
            others = len(view.cookies) - 1
            if others == 0:
                answer = (
                    f"{ref(key)} is alone in its component (unified ID {view.unified_id}): no "
                    f"kept edge joins it to another cookie on {day}."
                )
            else:
                kinds = _count_kinds(view.kept)
                answer = (
                    f"{ref(key)} has unified ID {view.unified_id} with {others} other "
                    f"cookie(s): {len(view.kept)} kept edge(s) in the component ({kinds}); "
                    f"below, each cookie's strongest way in, from {ref(key)}."
                )
            out |= {"linked": others > 0, "tree": tree}
    else:
        a, b = keys
        if len(present) < 2:
            missing = [k for k in keys if k not in hood.graph]
            answer = f"{ref(a)} and {ref(b)} are NOT linked: " + " ".join(
                _absent(hood, k) for k in missing
            )
            out |= {"linked": False, "path": []}
        else:
            ua, ub = hood.graph[a]["unified_id"], hood.graph[b]["unified_id"]
            if ua == ub:
                path = widest_path(views[ua].kept, a, b, login_weight) or []
                to_explain += path
                if path:
                    weakest = _weakest(path, login_weight)
                    assert weakest is not None
                    w = path[weakest]
                    weak_text = (
                        f"login {short_login(w.login_hash)}"
                        if w.login_hash
                        else f"{w.kind}, score {w.score:.4f} (threshold {w.threshold:.4f})"
                    )
                    answer = (
                        f"{ref(a)} and {ref(b)} share unified ID {ua}: a path of {len(path)} "
                        f"edge(s) joins them; its weakest edge is {ref(w.a)} - {ref(w.b)} "
                        f"({weak_text})."
                    )
                    out["weakest"] = weakest
                else:
                    answer = (
                        f"{ref(a)} and {ref(b)} share unified ID {ua}, but no path of kept "
                        "edges was found between them: the lake's tables changed after the "
                        "graph was built?"
                    )
                out |= {"linked": True, "path": path}
            else:
                between = _between(views[ua], ub, hood)
                to_explain += [e for e, _ in between]
                answer = (
                    f"{ref(a)} and {ref(b)} are NOT linked: {ref(a)} has unified ID {ua}, "
                    f"{ref(b)} has {ub}. " + _why_apart(hood, views, a, b, between)
                )
                out |= {"linked": False, "path": [], "between": between}
        if hood.direct is not None:
            out["direct_pair"] = hood.direct
    out["answer"] = answer
    if hood.has_household and len(present) == 2:
        ha, hb = (hood.graph[k].get("household_id") for k in keys)
        out["same_household"] = ha is not None and ha == hb

    scored = {e.pair() for e in to_explain if e.kind == SCORED}
    direct = out.get("direct_pair") or {}
    if direct.get("score") is not None:
        scored.add(tuple(sorted(keys)))  # type: ignore[arg-type]
    step(f"feature contributions of {len(scored)} scored pair(s)")
    contribs = _contributions(spark, settings, day, hood, sorted(scored), out["model"])
    for name in ("tree", "path"):
        if name in out:
            out[name] = [_edge(e, contribs) for e in out[name]]
    if "between" in out:
        out["between"] = [_edge(e, contribs, f"cut: {why}") for e, why in out["between"]]
    if direct.get("score") is not None:
        lo, hi = sorted(keys)
        direct |= {"from": ref(lo), "to": ref(hi), "kind": SCORED}
        direct["contributions"] = contribs.get((lo, hi))
    _check_scores(out, contribs)
    out["components"] = [_component(views[u], hood) for u in sorted(views)]
    return out


def _check_scores(out: dict[str, Any], contribs: dict[Any, dict[str, Any]]) -> None:
    """Mark every contribution whose recomputed score differs from the stored one."""
    edges = [*out.get("tree", []), *out.get("path", []), *out.get("between", [])]
    if out.get("direct_pair"):
        edges.append(out["direct_pair"])
    for e in edges:
        c = e.get("contributions")
        if c and e.get("score") is not None:
            c["matches_stored_score"] = abs(c["score"] - e["score"]) <= SCORE_TOLERANCE


def _count_kinds(edges: Sequence[Edge]) -> str:
    counts: dict[str, int] = {}
    for e in edges:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def _cookie_row(hood: Neighbourhood, key: Key) -> dict[str, Any]:
    row = hood.graph.get(key)
    if row is None:
        status = "opted out" if hood.opted_out.get(key) else "not in the graph"
        return {"cookie": ref(key), "status": status}
    out: dict[str, Any] = {
        "cookie": ref(key),
        "status": "in the graph",
        "unified_id": row["unified_id"],
        "component_size": int(row["component_size"]),
        "link_type": row["link_type"],
        "confidence": float(row["confidence"]),
        "login": short_login(hood.logins.get(key)),
        "unified_id_yesterday": hood.yesterday.get(key),
    }
    if hood.has_household:
        out["household_id"] = row.get("household_id")
    return out


def _absent(hood: Neighbourhood, key: Key) -> str:
    if hood.opted_out.get(key):
        return f"{ref(key)} opted out: no graph holds it since, and nothing more is shown."
    return (
        f"{ref(key)} is not in the graph of {hood.day}: unknown cookie (not seen in the window "
        "ending that day, or its login hash opted out)."
    )


def _between(view: ComponentView, other: str, hood: Neighbourhood) -> list[tuple[Edge, str]]:
    """Cut edges from ``view``'s component to the component ``other``, strongest first."""
    inside = set(view.cookies)

    def far(e: Edge) -> str:
        k = e.b if e.a in inside else e.a
        return str(hood.graph[k]["unified_id"])

    found = [(e, why) for e, why in view.cut if far(e) == other]
    return sorted(found, key=lambda x: -(x[0].score if x[0].score is not None else 2.0))


def _why_apart(
    hood: Neighbourhood,
    views: dict[str, ComponentView],
    a: Key,
    b: Key,
    between: Sequence[tuple[Edge, str]],
) -> str:
    direct = hood.direct or {}
    lo, hi = sorted([a, b])
    parts: list[str] = []
    if not direct.get("candidate"):
        parts.append("They were never compared: not a candidate pair of the day.")
    elif direct.get("score") is None:
        parts.append("They were a candidate pair, but the day was not scored by a model.")
    elif direct["score"] < direct["threshold"]:
        parts.append(
            f"Their pair scored {direct['score']:.4f}, below the threshold "
            f"{direct['threshold']:.4f}: no edge."
        )
    else:
        conflict = any(e.pair() == (lo, hi) for e in hood.dropped_login_conflict)
        cut = next((why for e, why in between if e.pair() == (lo, hi)), None)
        said = f"Their pair scored {direct['score']:.4f} (threshold {direct['threshold']:.4f})"
        if conflict:
            parts.append(said + ", but they are logged in with two different login hashes: "
                         "never an edge.")  # fmt: skip
        elif cut == "over-merge":
            raised = _raised(views[hood.graph[a]["unified_id"]])
            parts.append(said + ", but over-merge protection cut that edge" + raised + ".")
        elif cut is not None:
            parts.append(said + f", but that edge was cut ({cut}).")
        else:
            parts.append(said + ".")
    if between and between[0][0].pair() == (lo, hi):
        parts.append(f"{len(between)} edge(s) between their components were cut, this one the "
                     "strongest.")  # fmt: skip
    elif between:
        e, why = between[0]
        strength = f"login {short_login(e.login_hash)}" if e.login_hash else f"score {e.score:.4f}"
        parts.append(
            f"{len(between)} edge(s) between their components were cut; the strongest: "
            f"{ref(e.a)} - {ref(e.b)} ({e.kind}, {strength}), cut by {why}."
        )
    else:
        parts.append("No edge joins their two components.")
    return " ".join(parts)


def _raised(view: ComponentView) -> str:
    """`` (scored edges kept from T there)`` for a component over-merge protection split."""
    for g in view.guardrails:
        if g["kind"] == "over-merge split":
            if g["deterministic_only"]:
                return f" (only login links kept in {view.unified_id})"
            shown = ", ".join(f"{t:.4g}" for t in g["raised_thresholds"])
            return f" (scored edges kept from {shown} in {view.unified_id})"
    return ""


def _contributions(
    spark: SparkSession,
    settings: AppSettings,
    day: dt.date,
    hood: Neighbourhood,
    pairs: list[Any],
    model: dict[str, Any],
) -> dict[Any, dict[str, Any]]:
    """Contributions of ``pairs`` under the model that scored the day (notes in ``model``)."""
    version = hood.model_version
    if not pairs:
        model["contributions"] = "no scored edge to explain"
        return {}
    if version is None:
        model["contributions"] = "the day was not scored by a model"
        return {}
    champion = load_model_version(settings, str(version))
    if champion is None:
        model["contributions"] = (
            f"model v{version} is not in the registry: no feature contributions"
        )
        return {}
    model["loaded"] = True
    model["feature_columns"] = len(champion.feature_columns)
    rows = pair_feature_rows(spark, Lake(settings.lake.root), day, pairs, champion.feature_columns)
    model["contributions"] = (
        f"XGBoost pred_contribs of model v{version} on {len(rows)} pair(s), in log-odds: "
        "bias + contributions = margin, score = logistic(margin)"
    )
    return contributions(
        champion.booster, rows, champion.feature_columns, top=settings.graph.explain_top_features
    )


def _component(view: ComponentView, hood: Neighbourhood) -> dict[str, Any]:
    return {
        "unified_id": view.unified_id,
        "cookies": len(view.cookies),
        "kept_edges": len(view.kept),
        "login_edges": sum(e.kind == LOGIN for e in view.kept),
        "cut_edges": len(view.cut),
        "overmerge_step": view.step,
        "guardrails": view.guardrails,
    }


# --- rendering ----------------------------------------------------------------------------


def _num(value: Any) -> str:
    return "" if value is None else f"{value:.4f}"


def _why(edge: dict[str, Any], top: int = 3) -> str:
    if edge["kind"] == "login":
        return f"same login {edge['login']}"
    if edge["kind"] == "session rule":
        ev = edge.get("evidence") or {}
        return f"quiet hops {ev.get('quiet_hops_300s', 0)}, hop days {ev.get('hop_days', 0)}"
    c = edge.get("contributions")
    if not c:
        return "(no contributions)"
    return ", ".join(f"{f['feature']} {f['contribution']:+.2f}" for f in c["features"][:top])


def _yesterday(row: dict[str, Any]) -> str:
    before = row.get("unified_id_yesterday")
    if row.get("unified_id") is None:
        return ""
    if before is None:
        return "(not in the graph)"
    return "same" if before == row["unified_id"] else before


def render(expl: dict[str, Any]) -> list[RenderableType]:
    """The explanation as rich renderables: the answer, the cookies, the edges, the
    contributions of each scored edge and the guardrails."""
    from rich.table import Table
    from rich.text import Text

    out: list[RenderableType] = [
        Text(f"idgraph explain, {expl['day']}", style="bold"),
        Text(expl["answer"]),
    ]
    cookies = Table(title="cookies", title_justify="left")
    household = any("household_id" in r for r in expl["cookies"])
    columns = ["cookie", "status", "unified ID", "size", "link type", "confidence", "login",
               "ID yesterday"] + (["household ID"] if household else [])  # fmt: skip
    for c in columns:
        cookies.add_column(c)
    for r in expl["cookies"]:
        cells = [
            r["cookie"], r["status"], r.get("unified_id") or "", str(r.get("component_size", "")),
            r.get("link_type") or "", _num(r.get("confidence")), r.get("login") or "",
            _yesterday(r),
        ] + ([r.get("household_id") or ""] if household else [])  # fmt: skip
        cookies.add_row(*cells)
    out.append(cookies)
    if "same_household" in expl:
        out.append(Text(f"same household: {'yes' if expl['same_household'] else 'no'}"))
    for name, title in (("path", "path"), ("tree", "edges"), ("between", "cut edges between")):
        edges = expl.get(name) or []
        if not edges:
            continue
        table = Table(title=title, title_justify="left")
        for c in ("#", "from", "to", "kind", "score", "threshold", "status", "why"):
            table.add_column(c)
        for i, e in enumerate(edges):
            mark = " (weakest)" if name == "path" and expl.get("weakest") == i else ""
            table.add_row(
                str(i + 1), e["from"], e["to"], e["kind"] + mark, _num(e["score"]),
                _num(e["threshold"]), e["status"], _why(e),
            )  # fmt: skip
        out.append(table)
    direct = expl.get("direct_pair")
    if direct and not expl.get("linked"):
        if direct.get("score") is not None:
            said = f"scored {direct['score']:.4f} (threshold {direct['threshold']:.4f})"
        else:
            said = "a candidate pair, not scored" if direct.get("candidate") else "not a candidate"
        out.append(Text(f"the pair itself: {said}"))
    out += _contribution_tables(expl)
    model = expl.get("model") or {}
    if model.get("contributions"):
        out.append(Text(f"contributions: {model['contributions']}", style="dim"))
    rails = [(c["unified_id"], g) for c in expl.get("components", []) for g in c["guardrails"]]
    if rails:
        table = Table(title="guardrails", title_justify="left")
        for c in ("unified ID", "guardrail", "what it did"):
            table.add_column(c)
        for uid, g in rails:
            table.add_row(uid, g["kind"], g["detail"])
        out.append(table)
    else:
        out.append(Text("guardrails: none touched these components"))
    return out


def _contribution_tables(expl: dict[str, Any]) -> list[RenderableType]:
    from rich.table import Table

    edges = [*(expl.get("path") or []), *(expl.get("between") or [])]
    if expl.get("tree"):
        edges += [e for e in expl["tree"] if expl["cookies"][0]["cookie"] in (e["from"],)]
    direct = expl.get("direct_pair")
    if direct and direct.get("contributions") and not expl.get("linked"):
        a, b = (r["cookie"] for r in expl["cookies"])
        edges.append({"from": a, "to": b, "contributions": direct["contributions"]})
    out: list[RenderableType] = []
    seen: set[tuple[str, str]] = set()
    for e in edges:
        c = e.get("contributions")
        if not c or (e["from"], e["to"]) in seen:
            continue
        seen.add((e["from"], e["to"]))
        table = Table(
            title=f"why {e['from']} ~ {e['to']} scored {c['score']:.4f} (log-odds)",
            title_justify="left",
        )
        for col in ("feature", "value", "contribution"):
            table.add_column(col, justify="right" if col != "feature" else "left")
        table.add_row("bias (the model's average)", "", f"{c['bias']:+.4f}")
        for f in c["features"]:
            table.add_row(f["feature"], f"{f['value']:.4g}", f"{f['contribution']:+.4f}")
        if c["rest_features"]:
            table.add_row(f"{c['rest_features']} other features", "", f"{c['rest']:+.4f}")
        table.add_row("margin", "", f"{c['margin']:+.4f}")
        out.append(table)
    return out
