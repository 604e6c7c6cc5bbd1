"""Candidate pairs by blocking: cookies that share a strong signal, each unordered pair once.

Every cookie is exploded into its blocking keys (an IP hash, an (IP, hour) and an (IP, day)
of activity, an IPv6 /48, an IP prefix with the same browser/OS/device, an IP prefix with a
shared query term). Cookies that share a key form a block, and all pairs within a block are
candidates. Blocks larger than a configured cap (an office IP, a carrier's CGNAT pool, a
common term) are skipped and counted, never expanded, so the volume before deduplication is
at most ``cookies x keys x cap``: linear in traffic. Pairs produced by several blocks are
merged (their key names collected) and each cookie then keeps only its strongest pairs, the
strength of a pair being the sum over its blocks of ``1 / (block size - 1)`` (a pair alone
in a block of two counts 1, one of a block of fifty counts 1/49), so a cookie in many medium
blocks cannot flood the table. A pair survives when either of its cookies keeps it.

The login hash is deliberately not a key: it is the training label and the deterministic edge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from idgraph.core.settings.pairs import BLOCKING_KEY_NAMES
from spark_jobs.common.evidence import EVIDENCE_COLUMNS, RANK_COLUMNS, SESSION_KEY, with_evidence
from spark_jobs.common.schemas import PAIR_KEYS, pair_ordered
from spark_jobs.etl.normalize import PREFIX_TAGS

COOKIE_KEYS = ["site_id", "cookie_id"]
# Unit separator between the parts of a composite key: never occurs in ids, prefixes or terms.
_SEP = "\x1f"


def _ip_keys(features: DataFrame, **_: int) -> DataFrame:
    """Same full IP address (keyed hash), anywhere in the window."""
    return features.select(*COOKIE_KEYS, F.explode("ips.ip_hash").alias("block"))


def _ip_hour_keys(features: DataFrame, **_: int) -> DataFrame:
    """Same IP in the same hour: splits an office/CGNAT IP into small co-activity blocks."""
    hours = features.select(*COOKIE_KEYS, F.explode("ip_hours").alias("h"))
    return hours.select(
        *COOKIE_KEYS,
        F.concat_ws(_SEP, F.col("h.ip_hash"), F.col("h.hour_bucket").cast("string")).alias("block"),
    )


def _ip_day_keys(features: DataFrame, **_: int) -> DataFrame:
    """Same IP on the same UTC day: a home IP gathers a few hundred cookies over a month
    (too many to pair), but only the household's few active ones on any one day."""
    hours = features.select(*COOKIE_KEYS, F.explode("ip_hours").alias("h"))
    day = F.floor(F.col("h.hour_bucket") / 24).cast("string")
    return hours.select(*COOKIE_KEYS, F.concat_ws(_SEP, F.col("h.ip_hash"), day).alias("block"))


def _ip6_prefix_keys(features: DataFrame, **_: int) -> DataFrame:
    """Same IPv6 /48, any browser: ISPs delegate a /48 (or longer) to one home, and each
    device picks its own (rotating) address inside it, so the full address rarely matches."""
    prefixes = features.select(*COOKIE_KEYS, F.explode("ip_prefixes.ip_prefix").alias("block"))
    return prefixes.where(F.col("block").startswith(PREFIX_TAGS[6]))


def _busiest_prefixes(n: int) -> Column:
    by_events = F.array_sort(
        "ip_prefixes",
        lambda a, b: (
            F.when(a.n_events > b.n_events, -1).when(a.n_events < b.n_events, 1).otherwise(0)
        ),
    )
    return F.slice(by_events.getField("ip_prefix"), 1, n)


def _prefix_ua_keys(features: DataFrame, **_: int) -> DataFrame:
    """Same network (/24 or /48) and the same browser family, OS and device type."""
    agent = F.concat_ws(
        _SEP, *(F.coalesce(F.col(c), F.lit("")) for c in ("ua_family", "os_family", "device_type"))
    )
    exploded = features.where(F.col("ua_family").isNotNull()).select(
        *COOKIE_KEYS, F.explode("ip_prefixes.ip_prefix").alias("prefix"), agent.alias("agent")
    )
    return exploded.select(*COOKIE_KEYS, F.concat_ws(_SEP, "prefix", "agent").alias("block"))


def _prefix_term_keys(
    features: DataFrame, *, term_block_prefixes: int = 3, term_block_terms: int = 10, **_: int
) -> DataFrame:
    """Same network and a shared query term; common terms make big blocks and are skipped."""
    exploded = features.select(
        *COOKIE_KEYS,
        F.explode(_busiest_prefixes(term_block_prefixes)).alias("prefix"),
        F.slice(F.array_distinct("query_terms"), 1, term_block_terms).alias("terms"),
    )
    terms = exploded.select(*COOKIE_KEYS, "prefix", F.explode("terms").alias("term"))
    return terms.select(*COOKIE_KEYS, F.concat_ws(_SEP, "prefix", "term").alias("block"))


KEY_BUILDERS: dict[str, Callable[..., DataFrame]] = {
    "ip": _ip_keys,
    "ip_hour": _ip_hour_keys,
    "ip_day": _ip_day_keys,
    "ip6_prefix": _ip6_prefix_keys,
    "prefix_ua": _prefix_ua_keys,
    "prefix_term": _prefix_term_keys,
}
assert tuple(KEY_BUILDERS) == BLOCKING_KEY_NAMES


def block_members(
    features: DataFrame,
    *,
    keys: Sequence[str] = BLOCKING_KEY_NAMES,
    term_block_prefixes: int = 3,
    term_block_terms: int = 10,
) -> DataFrame:
    """Every (blocking key, block, cookie) membership, each once.

    Returns:
        Columns ``key`` (key name), ``block_id`` (64-bit hash of key name and value),
        ``site_id``, ``cookie_id``.
    """
    unknown = sorted(set(keys) - set(KEY_BUILDERS))
    if unknown:
        raise ValueError(f"unknown blocking keys {unknown}")
    parts = [
        KEY_BUILDERS[name](
            features, term_block_prefixes=term_block_prefixes, term_block_terms=term_block_terms
        )
        .where(F.col("block").isNotNull() & (F.col("block") != ""))
        .select(
            F.lit(name).alias("key"),
            # A 64-bit hash joins and shuffles cheaper than long strings; a collision only
            # merges two blocks, which the size cap still bounds.
            F.xxhash64(F.lit(name), "block").alias("block_id"),
            *COOKIE_KEYS,
        )
        for name in keys
    ]
    members = parts[0]
    for part in parts[1:]:
        members = members.unionByName(part)
    return members.dropDuplicates(["key", "block_id", *COOKIE_KEYS])


def _cap_column(max_block_size: int, overrides: Mapping[str, int] | None) -> Column:
    cap: Column = F.lit(max_block_size)
    for name, size in sorted((overrides or {}).items()):
        cap = F.when(F.col("key") == name, F.lit(size)).otherwise(cap)
    return cap


def block_sizes(
    members: DataFrame, *, max_block_size: int, block_size_overrides: Mapping[str, int] | None
) -> DataFrame:
    """One row per block: ``key``, ``block_id``, ``size``, ``cap`` and ``skipped``."""
    return (
        members.groupBy("key", "block_id")
        .agg(F.count("*").alias("size"))
        .withColumn("cap", _cap_column(max_block_size, block_size_overrides))
        .withColumn("skipped", F.col("size") > F.col("cap"))
    )


def _pairs_in_blocks(members: DataFrame, sizes: DataFrame) -> DataFrame:
    kept = sizes.where(~F.col("skipped") & (F.col("size") >= 2)).select(
        "key", "block_id", (1.0 / (F.col("size") - 1)).alias("weight")
    )
    kept_members = members.join(kept, ["key", "block_id"])
    left = kept_members.select(
        "key",
        "block_id",
        "weight",
        F.col("site_id").alias("site_id_l"),
        F.col("cookie_id").alias("cookie_id_l"),
    )
    right = kept_members.select(
        "key",
        "block_id",
        F.col("site_id").alias("site_id_r"),
        F.col("cookie_id").alias("cookie_id_r"),
    )
    return left.join(right, ["key", "block_id"]).where(pair_ordered())


def _cap_pairs_per_cookie(pairs: DataFrame, max_pairs_per_cookie: int) -> DataFrame:
    # Look at each pair from both of its cookies; a pair survives when it is among the
    # strongest of either one, so each cookie contributes at most `max_pairs_per_cookie`.
    columns = pairs.columns
    from_left = pairs.withColumn("_site", F.col("site_id_l")).withColumn(
        "_cookie", F.col("cookie_id_l")
    )
    from_right = pairs.withColumn("_site", F.col("site_id_r")).withColumn(
        "_cookie", F.col("cookie_id_r")
    )
    strongest = Window.partitionBy("_site", "_cookie").orderBy(
        F.col("block_weight").desc(), *(F.col(c) for c in PAIR_KEYS)
    )
    return (
        from_left.unionByName(from_right)
        .withColumn("_rank", F.row_number().over(strongest))
        .where(F.col("_rank") <= max_pairs_per_cookie)
        .select(*columns)
        .dropDuplicates(PAIR_KEYS)
    )


def build_candidates(
    features: DataFrame,
    *,
    max_block_size: int,
    block_size_overrides: Mapping[str, int] | None = None,
    keys: Sequence[str] = BLOCKING_KEY_NAMES,
    max_pairs_per_cookie: int = 40,
    term_block_prefixes: int = 3,
    term_block_terms: int = 10,
    members: DataFrame | None = None,
    evidence: DataFrame | None = None,
) -> DataFrame:
    """Candidate pairs of cookies that share a blocking key, each unordered pair once.

    Args:
        features: ``cookie_features`` rows (schema ``COOKIE_FEATURES``).
        max_block_size: blocks with more cookies are skipped, never expanded.
        block_size_overrides: per key name, a cap replacing ``max_block_size``.
        keys: blocking key names to use (subset of ``BLOCKING_KEY_NAMES``).
        max_pairs_per_cookie: each cookie keeps at most this many of its strongest pairs.
        term_block_prefixes: ``prefix_term`` uses a cookie's busiest prefixes, this many.
        term_block_terms: ``prefix_term`` uses a cookie's first query terms, this many.
        members: ``block_members(features, ...)`` when the caller already built (and cached)
            it for ``blocking_report``; built here otherwise.
        evidence: ``session_evidence.window_evidence`` rows: every pair in it becomes a
            candidate (key ``session``, one block of weight ``hop_days + quiet_codays / 2``)
            and every candidate carries its evidence columns. Pairs whose cookies are not in
            ``features`` (opted out) are dropped. None: no session evidence (all zero).

    Returns:
        ``CANDIDATE_PAIRS`` columns (``block_weight``: sum of ``1/(size-1)`` over the blocks
        that produced the pair, plus the session block's weight; the evidence columns), with
        ``(site_id_l, cookie_id_l) < (site_id_r, cookie_id_r)``.
    """
    if members is None:
        members = block_members(
            features,
            keys=keys,
            term_block_prefixes=term_block_prefixes,
            term_block_terms=term_block_terms,
        )
    sizes = block_sizes(
        members, max_block_size=max_block_size, block_size_overrides=block_size_overrides
    )
    merged = (
        _pairs_in_blocks(members, sizes)
        .groupBy(*PAIR_KEYS)
        .agg(
            F.array_sort(F.collect_set("key")).cast("array<string>").alias("blocking_keys"),
            F.sum("weight").alias("block_weight"),
            F.count("*").alias("n_blocks"),
        )
    )
    if evidence is not None:
        merged = _with_session_block(merged, features, evidence)
    capped = with_evidence(_cap_pairs_per_cookie(merged, max_pairs_per_cookie))
    return _with_ranks(capped.drop(*RANK_COLUMNS)).select(
        *PAIR_KEYS, "blocking_keys", "block_weight", "n_blocks", *EVIDENCE_COLUMNS, *RANK_COLUMNS
    )


def _with_ranks(pairs: DataFrame) -> DataFrame:
    """``pairs`` with ``RANK_COLUMNS``: "clearly its best match" is evidence a global threshold
    cannot see, so each pair learns its rank and share among each of its cookies' candidates."""
    sides = [
        pairs.select(
            *PAIR_KEYS,
            "block_weight",
            F.col(f"site_id_{s}").alias("_site"),
            F.col(f"cookie_id_{s}").alias("_cookie"),
        )
        for s in ("l", "r")
    ]
    cookie = Window.partitionBy("_site", "_cookie")
    ranked = (
        sides[0]
        .unionByName(sides[1])
        .withColumn(
            "_rank",
            F.row_number().over(
                cookie.orderBy(F.col("block_weight").desc(), *(F.col(c) for c in PAIR_KEYS))
            ),
        )
        .withColumn("_share", F.col("block_weight") / F.sum("block_weight").over(cookie))
    )
    per_pair = ranked.groupBy(*PAIR_KEYS).agg(
        F.min("_rank").cast("long").alias("evidence_rank"),
        F.coalesce(F.max("_share"), F.lit(0.0)).cast("double").alias("evidence_share"),
    )
    return pairs.join(per_pair, PAIR_KEYS)


def _with_session_block(merged: DataFrame, features: DataFrame, evidence: DataFrame) -> DataFrame:
    """``merged`` block pairs full-joined with the evidence pairs of cookies in ``features``."""
    cookies = features.select(*COOKIE_KEYS)
    known = evidence.select(*PAIR_KEYS, *EVIDENCE_COLUMNS)
    for side in ("l", "r"):
        side_keys = cookies.select(
            F.col("site_id").alias(f"site_id_{side}"), F.col("cookie_id").alias(f"cookie_id_{side}")
        )
        known = known.join(side_keys, [f"site_id_{side}", f"cookie_id_{side}"], "left_semi")
    joined = merged.join(known.withColumn("_session", F.lit(True)), PAIR_KEYS, "full")
    has = F.coalesce(F.col("_session"), F.lit(False))
    keys = F.coalesce(F.col("blocking_keys"), F.array().cast("array<string>"))
    weight = F.col("hop_days").cast("double") + F.col("quiet_codays").cast("double") / 2
    return joined.select(
        *PAIR_KEYS,
        F.when(has, F.array_sort(F.array_union(keys, F.array(F.lit(SESSION_KEY)))))
        .otherwise(keys)
        .alias("blocking_keys"),
        (F.coalesce(F.col("block_weight"), F.lit(0.0)) + F.when(has, weight).otherwise(0.0)).alias(
            "block_weight"
        ),
        (F.coalesce(F.col("n_blocks"), F.lit(0)) + F.when(has, 1).otherwise(0))
        .cast("long")
        .alias("n_blocks"),
        *EVIDENCE_COLUMNS,
    )


def blocking_report(
    members: DataFrame,
    *,
    max_block_size: int,
    block_size_overrides: Mapping[str, int] | None = None,
) -> DataFrame:
    """What blocking did, one row per key name (a handful of rows: safe to collect).

    Returns:
        ``key``, ``blocks`` (with 2+ cookies), ``skipped_blocks``, ``skipped_cookies``
        (distinct cookies in at least one skipped block of that key), ``largest_block``.
    """
    sizes = block_sizes(
        members, max_block_size=max_block_size, block_size_overrides=block_size_overrides
    )
    per_key = sizes.groupBy("key").agg(
        F.sum(F.when(F.col("size") >= 2, 1).otherwise(0)).cast("long").alias("blocks"),
        F.sum(F.when(F.col("skipped"), 1).otherwise(0)).cast("long").alias("skipped_blocks"),
        F.max("size").alias("largest_block"),
    )
    skipped_cookies = (
        members.join(sizes.where("skipped").select("key", "block_id"), ["key", "block_id"])
        .select("key", *COOKIE_KEYS)
        .distinct()
        .groupBy("key")
        .agg(F.count("*").alias("skipped_cookies"))
    )
    return (
        per_key.join(skipped_cookies, "key", "left")
        .fillna(0, subset=["skipped_cookies"])
        .select("key", "blocks", "skipped_blocks", "skipped_cookies", "largest_block")
    )
