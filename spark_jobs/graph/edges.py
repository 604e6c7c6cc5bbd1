"""Vertices and edges of the identity graph.

Vertices are cookies and login hashes. A cookie that carries a login hash is linked to a vertex
for that hash (a star), never to every other cookie of the login: edges stay linear in the
number of cookies. Scored pairs at or above the champion's threshold add probabilistic edges.

Vertex ids are ``xxhash64`` of a typed key (``c<US>site<US>cookie`` or ``l<US>login``): the
same key gets the same id on every run, partition layout and cluster, unlike
``monotonically_increasing_id`` (GraphFrames issues #428, #453). Two keys can collide; the job
counts colliding ids every day and re-hashes the colliding keys with a salt (``salted_ids``).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

_SEP = "\x1f"  # ASCII unit separator: cannot occur in ids that passed the ETL's validation


def cookie_key(site: Column | str, cookie: Column | str) -> Column:
    """Vertex key of a cookie."""
    return F.concat_ws(_SEP, F.lit("c"), _col(site), _col(cookie))


def login_key(login: Column | str) -> Column:
    """Vertex key of a login hash."""
    return F.concat_ws(_SEP, F.lit("l"), _col(login))


def _col(value: Column | str) -> Column:
    return F.col(value) if isinstance(value, str) else value


def vertex_keys(cookies: DataFrame) -> DataFrame:
    """``key``, ``id`` of every cookie and every login hash of ``cookies``."""
    return (
        cookies.select(cookie_key("site_id", "cookie_id").alias("key"))
        .unionByName(
            cookies.where(F.col("login_hash").isNotNull()).select(
                login_key("login_hash").alias("key")
            )
        )
        .distinct()
        .withColumn("id", F.xxhash64("key"))
    )


def salted_ids(keys: DataFrame) -> DataFrame:
    """Replacement ids for keys whose ``xxhash64`` collides with another key's.

    The smallest key of a colliding group keeps its id; the others are re-hashed with their
    rank as a salt. A second collision of a re-hashed key has probability ~n/2^64 per key and
    is not handled further.

    Returns:
        ``key``, ``salted_id`` (usually empty).
    """
    ranked = keys.withColumn(
        "rank", F.row_number().over(Window.partitionBy("id").orderBy("key"))
    ).withColumn("n", F.count(F.lit(1)).over(Window.partitionBy("id")))
    return ranked.where((F.col("n") > 1) & (F.col("rank") > 1)).select(
        "key", F.xxhash64(F.col("key"), F.col("rank")).alias("salted_id")
    )


def with_id(df: DataFrame, key: Column, name: str, salts: DataFrame | None) -> DataFrame:
    """Add column ``name``: the vertex id of ``key``, salted where ``salts`` says so."""
    if salts is None:
        return df.withColumn(name, F.xxhash64(key))
    tmp = f"_key_{name}"
    return (
        df.withColumn(tmp, key)
        .join(F.broadcast(salts.withColumnRenamed("key", tmp)), tmp, "left_outer")
        .withColumn(name, F.coalesce(F.col("salted_id"), F.xxhash64(F.col(tmp))))
        .drop(tmp, "salted_id")
    )


def generic_logins(cookies: DataFrame, *, max_cookies: int, max_devices: int) -> DataFrame:
    """Login hashes too widespread to identify one person (as Senzing treats generic values).

    Args:
        cookies: ``cookie_features`` rows (``site_id``, ``cookie_id``, ``login_hash``,
            ``device_type``, ``os_family``, ``ua_family``).
        max_cookies: more cookies than this on one hash is implausible for a person.
        max_devices: more distinct (device type, OS, browser) combinations than this too.

    Returns:
        ``login_hash``, ``n_cookies``, ``n_devices`` of every generic login hash.
    """
    device = F.concat_ws(
        "/",
        F.coalesce(F.col("device_type"), F.lit("?")),
        F.coalesce(F.col("os_family"), F.lit("?")),
        F.coalesce(F.col("ua_family"), F.lit("?")),
    )
    return (
        cookies.where(F.col("login_hash").isNotNull())
        .groupBy("login_hash")
        .agg(
            F.count(F.lit(1)).alias("n_cookies"),
            F.countDistinct(device).alias("n_devices"),
        )
        .where((F.col("n_cookies") > max_cookies) | (F.col("n_devices") > max_devices))
    )


def cookie_vertices(cookies: DataFrame, salts: DataFrame | None = None) -> DataFrame:
    """``site_id``, ``cookie_id``, ``login_hash``, ``id`` of every cookie."""
    return with_id(
        cookies.select("site_id", "cookie_id", "login_hash"),
        cookie_key("site_id", "cookie_id"),
        "id",
        salts,
    )


def deterministic_edges(
    cookies: DataFrame, generic: DataFrame, salts: DataFrame | None = None
) -> DataFrame:
    """Star edges cookie -> login-hash vertex, generic login hashes left out.

    Returns:
        ``src`` (cookie id), ``dst`` (login vertex id), ``login_hash``.
    """
    linked = cookies.where(F.col("login_hash").isNotNull()).join(
        F.broadcast(generic.select("login_hash")), "login_hash", "left_anti"
    )
    with_src = with_id(linked, cookie_key("site_id", "cookie_id"), "src", salts)
    return with_id(with_src, login_key("login_hash"), "dst", salts).select(
        "src", "dst", "login_hash"
    )


def probabilistic_edges(
    scored_pairs: DataFrame,
    cookies: DataFrame,
    salts: DataFrame | None = None,
    generic: DataFrame | None = None,
) -> DataFrame:
    """Scored pairs at or above their threshold whose two cookies are in today's graph.

    Pairs of a cookie that left the window or opted out are dropped here, so opted-out
    cookies cannot come back through a scored pair. So are pairs whose two cookies are logged
    in with different login hashes (neither of them generic): the training labels call such a
    pair a negative, and one such edge merges two known people into one component.

    Args:
        scored_pairs: ``scored_pairs`` rows (keys, ``score``, ``threshold``).
        cookies: today's cookies (``site_id``, ``cookie_id``, ``login_hash``).
        salts: re-hashed vertex ids, if any collided.
        generic: ``generic_logins`` output; their hashes never make a pair conflict.

    Returns:
        ``src``, ``dst`` (cookie ids), ``score``, ``threshold``.
    """
    known = cookies.select("site_id", "cookie_id", "login_hash").dropDuplicates(
        ["site_id", "cookie_id"]
    )
    if generic is not None:
        known = known.join(
            F.broadcast(generic.select("login_hash").withColumn("_generic", F.lit(True))),
            "login_hash",
            "left",
        ).select(
            "site_id",
            "cookie_id",
            F.when(F.col("_generic").isNull(), F.col("login_hash")).alias("login_hash"),
        )
    kept = scored_pairs.where(F.col("score") >= F.col("threshold"))
    for side in ("l", "r"):
        kept = kept.join(
            known.select(
                F.col("site_id").alias(f"site_id_{side}"),
                F.col("cookie_id").alias(f"cookie_id_{side}"),
                F.col("login_hash").alias(f"_login_{side}"),
            ),
            [f"site_id_{side}", f"cookie_id_{side}"],
        )
    kept = kept.where(~F.coalesce(F.col("_login_l") != F.col("_login_r"), F.lit(False)))
    kept = with_id(kept, cookie_key("site_id_l", "cookie_id_l"), "src", salts)
    kept = with_id(kept, cookie_key("site_id_r", "cookie_id_r"), "dst", salts)
    return kept.select("src", "dst", "score", "threshold")
