"""Why a cookie has its unified ID, or why two cookies share one (or not).

The graph stage does not persist the edges it used, so they are rebuilt here from the day's lake
tables, the way ``job.run_graph`` builds them, for the one or two components concerned only:
every read is filtered first (by unified ID, then by the components' cookies and login hashes)
and what reaches the driver is one component's cookies and edges, which over-merge protection
caps in size. Nothing scans a whole day into the driver.

What is rebuilt (``gather``), then reasoned over on the driver (``analyse``, pure Python):

- edges: login (two cookies of one non-generic login hash: the star of ``edges.py`` seen from
  its cookies), scored (``scored_pairs`` at or above the threshold recorded for the day, not
  between two different logins) and session rule (``candidate_pairs`` evidence, when the rule
  is on and the model did not score the pair);
- guardrails: generic login hashes, over-merge protection (scored edges that would join two of
  today's components: the threshold was raised, and ``analyse`` finds by how many steps),
  ``different_people`` verdicts in force (feedback cannot-links), opted-out or departed cookies
  whose scored pairs were dropped, and scored pairs dropped between two logins;
- the path between two cookies: the maximum-bottleneck path over the component's kept edges
  (ties: fewest edges), with its weakest edge; for one cookie, the maximum spanning tree of its
  component grown from it (each cookie's strongest way in).

``same_person`` feedback never adds an edge (it is a training label), so there is no feedback
edge kind.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from idgraph.core.lake import Lake
from idgraph.core.settings import AppSettings, GraphSettings
from spark_jobs.common.feedback import cannot_links
from spark_jobs.common.io import partition_exists, read_partition
from spark_jobs.common.optouts import drop_opted_out, read_optouts
from spark_jobs.common.schemas import PAIR_KEYS
from spark_jobs.graph.job import _session_rule_pairs  # one definition of the rule's edges

Key = tuple[str, str]
"""(site_id, cookie_id)"""

LOGIN, SCORED, SESSION_RULE = "login", "scored", "session rule"
LOGIN_HASH_CHARS = 8  # a login hash is shown as its first 8 hex characters and an ellipsis
_GRAPH_COLUMNS = ("unified_id", "component_size", "link_type", "confidence", "household_id")


class ExplainError(Exception):
    """The lake cannot answer (no graph for the day, a malformed cookie reference)."""


def parse_cookie(text: str) -> Key:
    """``SITE/COOKIE`` -> (site, cookie); the site is everything before the first ``/``."""
    site, sep, cookie = text.partition("/")
    if not sep or not site or not cookie:
        raise ExplainError(f"a cookie is SITE/COOKIE, got {text!r}")
    return site, cookie


def short_login(login_hash: str | None) -> str | None:
    """A login hash truncated for display (never the whole hash)."""
    return None if login_hash is None else login_hash[:LOGIN_HASH_CHARS] + "…"


def ref(key: Key) -> str:
    """``SITE/COOKIE``."""
    return f"{key[0]}/{key[1]}"


@dataclass(frozen=True)
class Edge:
    """One edge between two cookies, as the graph stage builds it."""

    a: Key
    b: Key
    kind: str  # LOGIN | SCORED | SESSION_RULE
    score: float | None = None  # None for login edges
    threshold: float | None = None
    login_hash: str | None = None  # login edges: the full hash (shown truncated)
    model_version: str | None = None
    evidence: dict[str, int] = field(default_factory=dict)  # session rule: its hops

    def weight(self, login_weight: float) -> float:
        """Strength of the edge for paths: a login edge outweighs every score."""
        return login_weight if self.kind == LOGIN else float(self.score or 0.0)

    def keeps_at(self, step: int, gs: GraphSettings) -> bool:
        """Whether the edge survives over-merge step ``step`` (the graph stage's comparison)."""
        if self.kind == LOGIN:
            return True
        if step > gs.overmerge_max_steps:
            return False
        assert self.score is not None and self.threshold is not None
        return self.score >= self.threshold + step * gs.overmerge_threshold_step

    def pair(self) -> tuple[Key, Key]:
        return (self.a, self.b) if self.a <= self.b else (self.b, self.a)


@dataclass
class Neighbourhood:
    """What ``gather`` collected for the queried cookies' components (all small)."""

    day: dt.date
    queried: list[Key]
    graph: dict[Key, dict[str, Any]]  # members and their edges' other ends, as in the graph
    members: dict[str, list[Key]]  # unified ID -> its cookies (the queried components)
    logins: dict[Key, str | None]  # login hash of every cookie of ``graph``
    login_stats: dict[str, tuple[int, int]]  # members' login hashes: (cookies, devices)
    edges: list[Edge]  # every edge touching a member, before any guardrail
    dropped_login_conflict: list[Edge]  # scored pairs at threshold between two logins
    dropped_gone: list[tuple[Key, str]]  # scored pairs at threshold to cookies not in the
    # graph (opted out): the member's key and the reason
    direct: dict[str, Any] | None  # the queried pair's own scored / candidate row
    verdicts: list[tuple[Key, Key]]  # different_people verdicts in force touching members
    opted_out: dict[Key, bool]  # queried cookies absent from the graph
    yesterday: dict[Key, str]  # queried cookies' unified ID the day before
    health: dict[str, Any]
    has_household: bool
    model_version: str | None
    threshold: float | None


def _keys(spark: SparkSession, keys: Iterable[Key], suffix: str = "") -> DataFrame:
    rows = sorted(set(keys))
    return F.broadcast(
        spark.createDataFrame(rows, f"site_id{suffix} string, cookie_id{suffix} string")
    )


def _touching(pairs: DataFrame, spark: SparkSession, keys: Iterable[Key]) -> DataFrame:
    """Rows of a pair table with either cookie among ``keys`` (a broadcast semi-join: one
    pass over the table, no shuffle)."""
    small = _keys(spark, keys, "_k")
    either = (
        (F.col("site_id_l") == F.col("site_id_k")) & (F.col("cookie_id_l") == F.col("cookie_id_k"))
    ) | (
        (F.col("site_id_r") == F.col("site_id_k")) & (F.col("cookie_id_r") == F.col("cookie_id_k"))
    )
    return pairs.join(small, either, "left_semi")


def _graph_rows(graph: DataFrame, spark: SparkSession, keys: Iterable[Key]) -> dict[Key, dict]:
    keys = list(keys)
    if not keys:
        return {}
    cols = [c for c in _GRAPH_COLUMNS if c in graph.columns]
    rows = graph.join(_keys(spark, keys), ["site_id", "cookie_id"], "left_semi").select(
        "site_id", "cookie_id", *cols
    )
    return {(r["site_id"], r["cookie_id"]): r.asDict() for r in rows.collect()}


def _pair_key(row: Any) -> tuple[Key, Key]:
    return (row["site_id_l"], row["cookie_id_l"]), (row["site_id_r"], row["cookie_id_r"])


def gather(
    spark: SparkSession, settings: AppSettings, day: dt.date, queried: Sequence[Key]
) -> Neighbourhood:
    """Collect the queried cookies' components and every edge touching them (``Neighbourhood``).

    Raises:
        ExplainError: when the day has no ``identity_graph`` or ``cookie_features``.
    """
    gs = settings.graph
    lake = Lake(settings.lake.root)
    for table in ("identity_graph", "cookie_features"):
        if not partition_exists(spark, lake, table, day):
            raise ExplainError(f"no {table}/dt={day} in {lake.root}: run the graph for {day}")
    graph = read_partition(spark, lake, "identity_graph", day)
    found = _graph_rows(graph, spark, queried)
    ids = sorted({found[k]["unified_id"] for k in queried if k in found})
    members: dict[str, list[Key]] = {u: [] for u in ids}
    component = graph.where(F.col("unified_id").isin(ids)) if ids else None
    graph_info: dict[Key, dict[str, Any]] = {}
    if component is not None:
        cols = [c for c in _GRAPH_COLUMNS if c in graph.columns]
        for r in component.select("site_id", "cookie_id", *cols).collect():
            key = (r["site_id"], r["cookie_id"])
            graph_info[key] = r.asDict()
            members[r["unified_id"]].append(key)
    member_keys = [k for ks in members.values() for k in ks]

    features = read_partition(spark, lake, "cookie_features", day).select(
        "site_id", "cookie_id", "login_hash", "device_type", "os_family", "ua_family"
    )
    optouts = read_optouts(spark, lake).localCheckpoint()
    logins: dict[Key, str | None] = {}
    login_stats: dict[str, tuple[int, int]] = {}
    edges: list[Edge] = []
    conflicts: list[Edge] = []
    gone: list[tuple[Key, str]] = []
    direct: dict[str, Any] | None = None
    verdicts: list[tuple[Key, Key]] = []
    model_version: str | None = None
    threshold: float | None = None

    if member_keys:
        mine = features.join(_keys(spark, member_keys), ["site_id", "cookie_id"], "left_semi")
        for r in mine.select("site_id", "cookie_id", "login_hash").collect():
            logins[(r["site_id"], r["cookie_id"])] = r["login_hash"]
        hashes = sorted({h for h in logins.values() if h})
        if hashes:
            same_login = drop_opted_out(
                features.where(F.col("login_hash").isin(hashes)), optouts
            ).localCheckpoint()
            login_stats = _login_stats(same_login)
            usable = [
                h
                for h, (n, d) in login_stats.items()
                if n <= gs.generic_login_max_cookies and d <= gs.generic_login_max_devices
            ]
            if usable:  # at most generic_login_max_cookies cookies each
                star: dict[str, list[Key]] = {}
                rows = same_login.where(F.col("login_hash").isin(usable))
                for r in rows.select("site_id", "cookie_id", "login_hash").collect():
                    key = (r["site_id"], r["cookie_id"])
                    logins[key] = r["login_hash"]
                    star.setdefault(r["login_hash"], []).append(key)
                for h, cookies in star.items():
                    cookies.sort()
                    edges += [
                        Edge(a, b, LOGIN, login_hash=h)
                        for i, a in enumerate(cookies)
                        for b in cookies[i + 1 :]
                    ]

        scored_rows: list[Any] = []
        if partition_exists(spark, lake, "scored_pairs", day):
            # Every scored pair of the members (at most their candidates): the queried pair's
            # own score comes from here too, above the threshold or not.
            scored = read_partition(spark, lake, "scored_pairs", day)
            every = _touching(scored, spark, member_keys).collect()
            if len(queried) == 2:
                wanted = tuple(sorted(queried))
                direct = next(
                    ({"candidate": True, "score": float(r["score"]),
                      "threshold": float(r["threshold"]),
                      "model_version": str(r["model_version"])}
                     for r in every if _pair_key(r) == wanted),
                    None,
                )  # fmt: skip
            scored_rows = [r for r in every if r["score"] >= r["threshold"]]
        rule_rows: list[Any] = []
        rule = _session_rule_pairs(spark, lake, day, gs)
        if rule is not None:
            candidates = read_partition(spark, lake, "candidate_pairs", day)
            hops = candidates.select(*PAIR_KEYS, "quiet_hops_300s", "hop_days")
            rule_rows = _touching(rule, spark, member_keys).join(hops, PAIR_KEYS, "left").collect()
        others = {k for r in [*scored_rows, *rule_rows] for k in _pair_key(r)}
        others |= {k for e in edges for k in (e.a, e.b)}  # login stars can leave a component
        others -= set(graph_info)
        graph_info |= _graph_rows(graph, spark, others)
        unknown_login = [k for k in others if k in graph_info and k not in logins]
        if unknown_login:
            theirs = features.join(
                _keys(spark, unknown_login), ["site_id", "cookie_id"], "left_semi"
            )
            for r in theirs.select("site_id", "cookie_id", "login_hash").collect():
                logins[(r["site_id"], r["cookie_id"])] = r["login_hash"]
        # Whether the other ends' login hashes are generic decides a login conflict.
        extra = sorted({h for k in others if (h := logins.get(k))} - set(login_stats))
        if extra:
            login_stats |= _login_stats(
                drop_opted_out(features.where(F.col("login_hash").isin(extra)), optouts)
            )
        generic = {h for h, (n, d) in login_stats.items() if n > gs.generic_login_max_cookies
                   or d > gs.generic_login_max_devices}  # fmt: skip
        model_pairs: set[tuple[Key, Key]] = set()
        for r in scored_rows:
            a, b = _pair_key(r)
            model_version, threshold = str(r["model_version"]), float(r["threshold"])
            edge = Edge(a, b, SCORED, float(r["score"]), float(r["threshold"]),
                        model_version=str(r["model_version"]))  # fmt: skip
            if a not in graph_info or b not in graph_info:
                # Both sides of a scored pair are the day's cookies, and the graph holds every
                # one of them but the opted-out (by cookie or by login).
                gone.append((a if a in graph_info else b, "opted out"))
                continue
            la, lb = (logins.get(k) for k in (a, b))
            la, lb = (None if h in generic else h for h in (la, lb))
            if la is not None and lb is not None and la != lb:
                conflicts.append(edge)
                continue
            model_pairs.add((a, b))
            edges.append(edge)
        for r in rule_rows:
            a, b = _pair_key(r)
            if (a, b) in model_pairs or a not in graph_info or b not in graph_info:
                continue
            la, lb = (logins.get(k) for k in (a, b))
            if la is not None and lb is not None and la != lb and not {la, lb} & generic:
                continue
            edges.append(Edge(a, b, SESSION_RULE, float(r["score"]), float(r["threshold"]),
                              evidence={"quiet_hops_300s": int(r["quiet_hops_300s"] or 0),
                                        "hop_days": int(r["hop_days"] or 0)}))  # fmt: skip

        in_force = _touching(cannot_links(spark, lake, day), spark, member_keys)
        verdicts = [_pair_key(r) for r in in_force.collect()]
        verdict_others = {k for p in verdicts for k in p} - set(graph_info)
        graph_info |= _graph_rows(graph, spark, verdict_others)

    if len(queried) == 2 and direct is None:
        direct = _direct(spark, lake, day, queried[0], queried[1])
    opted_out = _opted_out(spark, optouts, [k for k in queried if k not in found])
    yesterday: dict[Key, str] = {}
    before = day - dt.timedelta(days=1)
    if partition_exists(spark, lake, "identity_graph", before):
        old = read_partition(spark, lake, "identity_graph", before)
        yesterday = {k: v["unified_id"] for k, v in _graph_rows(old, spark, queried).items()}
    health: dict[str, Any] = {}
    if partition_exists(spark, lake, "health", day):
        row = read_partition(spark, lake, "health", day).first()
        health = {} if row is None else row.asDict(recursive=True)
    if model_version is None:
        model_version = health.get("model_version")
    return Neighbourhood(
        day=day,
        queried=list(queried),
        graph=graph_info,
        members=members,
        logins=logins,
        login_stats=login_stats,
        edges=edges,
        dropped_login_conflict=conflicts,
        dropped_gone=gone,
        direct=direct,
        verdicts=verdicts,
        opted_out=opted_out,
        yesterday=yesterday,
        health=health,
        has_household="household_id" in graph.columns,
        model_version=model_version,
        threshold=threshold,
    )


def _login_stats(cookies: DataFrame) -> dict[str, tuple[int, int]]:
    """(cookies, distinct devices) per login hash, as ``edges.generic_logins`` counts them."""
    device = F.concat_ws(
        "/", *(F.coalesce(F.col(c), F.lit("?")) for c in ("device_type", "os_family", "ua_family"))
    )
    rows = (
        cookies.groupBy("login_hash")
        .agg(F.count(F.lit(1)).alias("n"), F.countDistinct(device).alias("d"))
        .collect()
    )
    return {r["login_hash"]: (int(r["n"]), int(r["d"])) for r in rows}


def _opted_out(spark: SparkSession, optouts: DataFrame, keys: Sequence[Key]) -> dict[Key, bool]:
    """Which of ``keys`` (cookies absent from the graph) opted out as cookies."""
    if not keys:
        return {}
    hit = (
        optouts.where(F.col("kind") == "cookie")
        .join(_keys(spark, keys), ["site_id", "cookie_id"], "left_semi")
        .select("site_id", "cookie_id")
        .collect()
    )
    out = {(r["site_id"], r["cookie_id"]) for r in hit}
    return {k: k in out for k in keys}


def _direct(spark: SparkSession, lake: Lake, day: dt.date, a: Key, b: Key) -> dict[str, Any] | None:
    """The pair (a, b) as the day's candidates know it (a pair the day did not score)."""
    lo, hi = sorted([a, b])
    where = (
        (F.col("site_id_l") == lo[0])
        & (F.col("cookie_id_l") == lo[1])
        & (F.col("site_id_r") == hi[0])
        & (F.col("cookie_id_r") == hi[1])
    )
    out: dict[str, Any] = {"candidate": False, "score": None, "threshold": None}
    if partition_exists(spark, lake, "candidate_pairs", day):
        cand = read_partition(spark, lake, "candidate_pairs", day).where(where).first()
        out["candidate"] = cand is not None
    return out


# --- reasoning on the driver -------------------------------------------------------------


def overmerge_step(cut: Sequence[Edge], gs: GraphSettings) -> int:
    """The over-merge step a component was kept at, from the scored edges that would have
    joined it to another of today's components (none cut by feedback): the smallest step at
    which none of them survives (0: none; ``overmerge_max_steps`` + 1: deterministic only)."""
    scored = [e for e in cut if e.kind != LOGIN]
    if not scored:
        return 0
    for step in range(1, gs.overmerge_max_steps + 2):
        if not any(e.keeps_at(step, gs) for e in scored):
            return step
    return gs.overmerge_max_steps + 1  # pragma: no cover - keeps_at is False past the last step


def widest_path(
    edges: Sequence[Edge], source: Key, target: Key, login_weight: float
) -> list[Edge] | None:
    """The maximum-bottleneck path from ``source`` to ``target`` (ties: fewest edges, then the
    larger sum of weights), or None when they are not connected by ``edges``."""
    adjacent: dict[Key, list[tuple[Key, Edge]]] = {}
    for e in edges:
        adjacent.setdefault(e.a, []).append((e.b, e))
        adjacent.setdefault(e.b, []).append((e.a, e))
    best: dict[Key, tuple[float, int, float]] = {source: (float("inf"), 0, 0.0)}
    came: dict[Key, tuple[Key, Edge]] = {}
    heap: list[tuple[float, int, float, Key]] = [(-float("inf"), 0, -0.0, source)]
    done: set[Key] = set()
    while heap:
        neg_b, hops, neg_sum, node = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        if node == target:
            break
        for other, e in adjacent.get(node, []):
            if other in done:
                continue
            w = e.weight(login_weight)
            label = (min(-neg_b, w), hops + 1, -neg_sum + w)
            old = best.get(other)
            if old is None or (-label[0], label[1], -label[2]) < (-old[0], old[1], -old[2]):
                best[other] = label
                came[other] = (node, e)
                heapq.heappush(heap, (-label[0], label[1], -label[2], other))
    if target not in done:
        return None
    path: list[Edge] = []
    node = target
    while node != source:
        node, e = came[node]
        path.append(e)
    path.reverse()
    return [_oriented(e, i, path, source) for i, e in enumerate(path)]


def _oriented(e: Edge, i: int, path: Sequence[Edge], source: Key) -> Edge:
    """``e`` with ``a`` on the source side of the path."""
    start = source
    for prev in path[:i]:
        start = prev.b if prev.a == start else prev.a
    if e.a == start:
        return e
    return Edge(e.b, e.a, e.kind, e.score, e.threshold, e.login_hash, e.model_version, e.evidence)


def spanning_tree(edges: Sequence[Edge], root: Key, login_weight: float) -> list[Edge]:
    """Prim's maximum spanning tree from ``root``: each cookie with its strongest way in,
    in the order the tree reaches them (``a`` on the root's side)."""
    adjacent: dict[Key, list[Edge]] = {}
    for e in edges:
        adjacent.setdefault(e.a, []).append(e)
        adjacent.setdefault(e.b, []).append(e)
    reached = {root}
    heap: list[tuple[float, int, Edge]] = []
    counter = 0

    def push(node: Key) -> None:
        nonlocal counter
        for e in adjacent.get(node, []):
            counter += 1
            heapq.heappush(heap, (-e.weight(login_weight), counter, e))

    push(root)
    tree: list[Edge] = []
    while heap:
        _, _, e = heapq.heappop(heap)
        if e.a in reached and e.b in reached:
            continue
        inner, outer = (e.a, e.b) if e.a in reached else (e.b, e.a)
        tree.append(Edge(inner, outer, e.kind, e.score, e.threshold, e.login_hash,
                         e.model_version, e.evidence))  # fmt: skip
        reached.add(outer)
        push(outer)
    return tree


@dataclass
class ComponentView:
    """One queried component after ``analyse``: its kept edges and the guardrails."""

    unified_id: str
    cookies: list[Key]
    kept: list[Edge]
    cut: list[tuple[Edge, str]]  # edge to another component, and why it was cut
    step: int
    guardrails: list[dict[str, Any]]


def _overmerge_detail(
    step: int, raised: list[float] | None, cut: int, neighbours: int, gs: GraphSettings
) -> str:
    kept = (
        "only its login links were kept"
        if raised is None
        else f"its scored edges were kept from threshold + {step} x "
        f"{gs.overmerge_threshold_step} = " + ", ".join(f"{t:.4g}" for t in raised)
    )
    if raised is not None and min(raised) > 1.0:
        kept += " (above every score: no scored edge kept)"
    return (
        f"the component it was part of had more than {gs.max_component_size} cookies or two or "
        f"more login hashes; {kept}; {cut} edge(s) to {neighbours} other component(s) cut"
    )


def analyse_component(hood: Neighbourhood, uid: str, gs: GraphSettings) -> ComponentView:
    """Kept edges, cut edges and guardrails of the component ``uid``."""
    cookies = sorted(hood.members.get(uid, []))
    inside = set(cookies)

    def uid_of(k: Key) -> str | None:
        row = hood.graph.get(k)
        return None if row is None else row["unified_id"]

    apart = set()  # components a verdict in force separates from this one
    verdict_rows: list[dict[str, Any]] = []
    for a, b in hood.verdicts:
        mine, other = (a, b) if a in inside else (b, a)
        if mine not in inside:
            continue
        other_uid = uid_of(other)
        if other_uid is not None and other_uid != uid:
            apart.add(other_uid)
        verdict_rows.append(
            {"pair": [ref(a), ref(b)], "other_unified_id": other_uid,
             "in_graph": other_uid is not None}
        )  # fmt: skip
    internal, crossing = [], []
    for e in hood.edges:
        ua, ub = uid_of(e.a), uid_of(e.b)
        if ua == uid and ub == uid:
            internal.append(e)
        elif uid in (ua, ub):
            crossing.append(e)
    feedback_cut, overmerge_cut, unexplained = [], [], []
    for e in crossing:
        far = uid_of(e.b) if e.a in inside else uid_of(e.a)
        if far in apart:
            feedback_cut.append(e)
        elif e.kind == LOGIN:
            unexplained.append(e)
        else:
            overmerge_cut.append(e)
    step = overmerge_step(overmerge_cut, gs)
    kept = [e for e in internal if e.keeps_at(step, gs)]
    cut: list[tuple[Edge, str]] = [(e, "feedback") for e in feedback_cut]
    cut += [(e, "over-merge") for e in overmerge_cut]
    cut += [(e, "unexplained") for e in unexplained]

    guardrails: list[dict[str, Any]] = []
    if step:
        raised = (
            None
            if step > gs.overmerge_max_steps
            else sorted({round(e.threshold + step * gs.overmerge_threshold_step, 6)
                         for e in overmerge_cut if e.threshold is not None})
        )  # fmt: skip
        neighbours = sorted({str(uid_of(e.b if e.a in inside else e.a)) for e in overmerge_cut})
        guardrails.append(
            {
                "kind": "over-merge split",
                "step": step,
                "deterministic_only": step > gs.overmerge_max_steps,
                "raised_thresholds": raised,
                "edges_cut": len(overmerge_cut),
                "split_from": neighbours,
                "detail": _overmerge_detail(step, raised, len(overmerge_cut), len(neighbours), gs),
            }
        )
    if verdict_rows:
        guardrails.append(
            {
                "kind": "feedback cannot-link",
                "verdicts": verdict_rows,
                "edges_cut": len(feedback_cut),
                "detail": f"{len(verdict_rows)} different_people verdict(s) in force touch this "
                f"component; {len(feedback_cut)} edge(s) cut to keep their cookies apart",
            }
        )
    for h in sorted({h for k in cookies if (h := hood.logins.get(k)) is not None}):
        n, d = hood.login_stats.get(h, (0, 0))
        if n > gs.generic_login_max_cookies or d > gs.generic_login_max_devices:
            guardrails.append(
                {
                    "kind": "generic login",
                    "login_hash": short_login(h),
                    "cookies": n,
                    "devices": d,
                    "detail": f"login {short_login(h)} is on {n} cookies and {d} devices "
                    f"(limits {gs.generic_login_max_cookies} and "
                    f"{gs.generic_login_max_devices}): it links nobody",
                }
            )
    conflicts = [e for e in hood.dropped_login_conflict if e.a in inside or e.b in inside]
    if conflicts:
        guardrails.append(
            {
                "kind": "login conflict",
                "pairs": len(conflicts),
                "detail": f"{len(conflicts)} scored pair(s) at the threshold join cookies of two "
                "different login hashes: never an edge",
            }
        )
    departed = [k for k, _ in hood.dropped_gone if k in inside]
    if departed:
        guardrails.append(
            {
                "kind": "opt-out",
                "pairs": len(departed),
                "detail": f"{len(departed)} scored pair(s) at the threshold lead to opted-out "
                "cookies (by cookie or by login): dropped, and never shown",
            }
        )
    if unexplained:
        guardrails.append(
            {
                "kind": "unexplained cut",
                "edges": len(unexplained),
                "detail": "login edge(s) to another component without a verdict in force: the "
                "lake's tables changed after the graph was built?",
            }
        )
    return ComponentView(uid, cookies, kept, cut, step, guardrails)
