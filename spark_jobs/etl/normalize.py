"""Column-level normalisation of raw event fields.

Every function here returns a ``Column`` (or a small struct of them), or adds columns to a
DataFrame, and runs inside the JVM with Spark built-ins, with one exception: the keyed hashes
of :func:`with_ip_fields`. IP handling is the privacy boundary of the whole product: after
:func:`with_ip_fields` only two keyed hashes remain, one of the full address (``ip_hash``) and
one of its network (``ip_prefix``: /24 IPv4, /48 IPv6), neither reversible without the key.

The keyed hashes are HMAC-SHA256 (RFC 2104) computed by a vectorised pandas UDF with Python's
``hmac``. The key reaches the Python workers as a broadcast variable, read at run time, so
neither the key nor its HMAC pads appear in a query plan, the Spark UI or the event log (a
built-in composition ``sha2(concat(unhex(pad), …))`` would carry the pads as literals).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pandas as pd
from pyspark import Broadcast
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# Dotted quad without leading zeros ("010" is ambiguous: octal to some parsers).
IPV4_RE = rf"^{_OCTET}(\.{_OCTET}){{3}}$"
_V4_MAPPED_RE = rf"^::ffff:({_OCTET}(\.{_OCTET}){{3}})$"
_HEX64_RE = r"^[0-9a-f]{64}$"
_HMAC_BLOCK = 64  # SHA-256 block size in bytes
NETWORK_DOMAIN = "net:"
"""Prepended to a network's text before it is hashed, so a network's hash can never equal an
address's hash under the same key."""
PREFIX_TAGS = {4: "v4:", 6: "v6:"}
"""``ip_prefix`` is the version tag followed by 64 hex digits: blocking on IPv6 /48s alone
(``ip6_prefix``) still tells the families apart without the network in clear."""
KEYED_HASHES = "ip_hash string, net_hash string"


def hmac_pads(key: bytes) -> tuple[str, str]:
    """The inner and outer HMAC-SHA256 pads of ``key``, as hex (RFC 2104): equivalent to the
    key, so they must never appear in a plan or a log either (the tests look for them)."""
    if len(key) > _HMAC_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_HMAC_BLOCK, b"\0")
    inner = bytes(b ^ 0x36 for b in key)
    outer = bytes(b ^ 0x5C for b in key)
    return inner.hex(), outer.hex()


def hmac_sha256_hex(text: str, *, key: bytes) -> str:
    """HMAC-SHA256 of the UTF-8 bytes of ``text`` under ``key``, as 64 lowercase hex chars."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _hex_digests(base: hmac.HMAC, values: pd.Series, domain: str = "") -> pd.Series:
    """HMAC of each value under ``base``'s key (null stays null), each distinct value once: a
    batch repeats the same household and office addresses many times over."""

    def one(value: str) -> str:
        mac = base.copy()  # cheaper than hmac.new: the key schedule is done once per batch
        mac.update((domain + value).encode())
        return mac.hexdigest()

    digests = {value: one(value) for value in values.dropna().unique()}
    return values.map(digests).astype(object)


def keyed_hashes(key: Broadcast[bytes]) -> Callable[[Column, Column], Column]:
    """A pandas UDF: ``struct(ip_hash, net_hash)`` = HMAC-SHA256 under ``key.value`` of an
    address and of ``NETWORK_DOMAIN`` + its network text (null in, null out).

    The broadcast is read on the workers when a batch is hashed; the plan only names the UDF.
    """

    @F.pandas_udf(KEYED_HASHES)  # type: ignore[call-overload]
    def keyed_ip_hashes(address: pd.Series, network: pd.Series) -> pd.DataFrame:
        base = hmac.new(key.value, digestmod=hashlib.sha256)
        return pd.DataFrame(
            {
                "ip_hash": _hex_digests(base, address),
                "net_hash": _hex_digests(base, network, NETWORK_DOMAIN),
            }
        )

    return keyed_ip_hashes


def _at(array: Column, index: int) -> Column:
    # try_: under ANSI mode (Spark 4's default) an index past the end raises instead of null.
    return F.try_element_at(array, F.lit(index))


def _strip_leading_zeros(group: Column) -> Column:
    return F.regexp_replace(group, r"^0+(?=.)", "")


def _ipv6_groups(df: DataFrame, text: str, out: str) -> DataFrame:
    """Add ``out``: the 8 hex groups of the IPv6 address in column ``text``, or null.

    Handles ``::`` compression and a trailing dotted quad (``64:ff9b::192.0.2.1``). Built in
    stages (one ``select`` per intermediate) because each intermediate is used several times:
    inlined into one expression the tree grows multiplicatively (megabytes of plan and tens
    of seconds of code generation); separate projections keep it linear.
    """
    t = F.col(text)
    df = df.withColumn("_ip6_quad", F.substring_index(t, ":", -1))
    quad = F.col("_ip6_quad")
    octets = [_at(F.split(quad, r"\."), i).try_cast("int") for i in range(1, 5)]
    quad_hex = F.concat(
        F.lower(F.hex(octets[0] * 256 + octets[1])),
        F.lit(":"),
        F.lower(F.hex(octets[2] * 256 + octets[3])),
    )
    head_len = F.length(t) - F.length(quad)
    df = df.withColumn(
        "_ip6_hexed",
        F.when(
            quad.contains("."),
            F.when(quad.rlike(IPV4_RE), F.concat(F.substring(t, F.lit(1), head_len), quad_hex)),
        ).otherwise(t),
    )
    hexed = F.col("_ip6_hexed")
    df = df.withColumn("_ip6_halves", F.split(hexed, "::"))
    halves = F.col("_ip6_halves")

    def groups_of(half: Column) -> Column:
        return F.when(half == "", F.array().cast("array<string>")).otherwise(F.split(half, ":"))

    df = df.withColumn("_ip6_head", groups_of(_at(halves, 1))).withColumn(
        "_ip6_tail", groups_of(_at(halves, 2))
    )
    n_given = F.size("_ip6_head") + F.size("_ip6_tail")
    compressed = F.when(
        n_given <= 7,
        F.concat(F.col("_ip6_head"), F.array_repeat(F.lit("0"), 8 - n_given), F.col("_ip6_tail")),
    )
    whole = F.split(hexed, ":")
    df = df.withColumn(
        "_ip6_groups_any",
        F.when(
            hexed.rlike(r"^[0-9a-f:]+$") & ~hexed.contains(":::"),
            F.when(F.size(halves) == 1, F.when(F.size(whole) == 8, whole)).when(
                F.size(halves) == 2, compressed
            ),
        ),
    )
    groups = F.col("_ip6_groups_any")
    return df.withColumn(
        out, F.when(F.forall(groups, lambda g: g.rlike(r"^[0-9a-f]{1,4}$")), groups)
    ).drop("_ip6_quad", "_ip6_hexed", "_ip6_halves", "_ip6_head", "_ip6_tail", "_ip6_groups_any")


def with_ip_fields(df: DataFrame, *, column: str, key: bytes | Broadcast[bytes]) -> DataFrame:
    """Add ``ip_version``, ``ip_prefix`` and ``ip_hash`` from the address in ``column``.

    All three are null when the value is not an IPv4/IPv6 address. The raw column is left
    for the caller to drop.

    * The network is the /24 of an IPv4 address (``a.b.c.0/24``) or the /48 of an IPv6 one
      (its RFC 5952 text); an IPv4-mapped IPv6 address (``::ffff:a.b.c.d``) counts as the IPv4
      address it carries, so those clients do not all share the network ``::/48``.
    * ``ip_prefix`` = ``v4:`` or ``v6:`` followed by the HMAC-SHA256 under ``key`` of
      ``NETWORK_DOMAIN`` + the network's text. The network itself is not stored: next to it,
      at most 256 trials of the address hash would give the address back to a key holder.
    * ``ip_hash`` = HMAC-SHA256 under ``key`` of the canonical address: the dotted quad, or
      the fully expanded IPv6 form (8 groups of 4 hex digits), so every spelling of one
      address hashes alike.

    Args:
        df: the lines.
        column: the column holding the address as given.
        key: the key, or a broadcast of it. Bytes are broadcast here; either way only the
            broadcast's id travels with the plan.
    """
    if not isinstance(key, Broadcast):
        key = df.sparkSession.sparkContext.broadcast(bytes(key))
    df = ip_text_fields(df, column=column)
    df = df.withColumn("_ip_keyed", keyed_hashes(key)(F.col("_ip_canonical"), F.col("_ip_network")))
    tag = F.when(F.col("ip_version") == 4, F.lit(PREFIX_TAGS[4])).when(
        F.col("ip_version") == 6, F.lit(PREFIX_TAGS[6])
    )
    return df.select(
        "*",
        F.concat(tag, F.col("_ip_keyed.net_hash")).alias("ip_prefix"),
        F.col("_ip_keyed.ip_hash").alias("ip_hash"),
    ).drop("_ip_canonical", "_ip_network", "_ip_keyed")


def ip_text_fields(df: DataFrame, *, column: str) -> DataFrame:
    """Add ``ip_version``, ``_ip_canonical`` (the address to hash) and ``_ip_network`` (the
    /24 or /48 text to hash), with built-ins only; :func:`with_ip_fields` hashes and drops the
    last two, which must never be stored."""
    df = df.withColumn("_ip_given", F.lower(F.trim(F.col(column))))
    df = df.withColumn("_ip_mapped", F.regexp_extract("_ip_given", _V4_MAPPED_RE, 1))
    df = df.withColumn(
        "_ip_text",
        F.when(F.col("_ip_mapped") != "", F.col("_ip_mapped")).otherwise(F.col("_ip_given")),
    )
    text = F.col("_ip_text")
    df = _ipv6_groups(df.withColumn("_ip_is_v4", text.rlike(IPV4_RE)), "_ip_text", "_ip6_groups")
    groups, is_v4 = F.col("_ip6_groups"), F.col("_ip_is_v4")
    is_v6 = ~is_v4 & groups.isNotNull()
    v4_prefix = F.concat(F.concat_ws(".", F.slice(F.split(text, r"\."), 1, 3)), F.lit(".0/24"))
    expanded = F.concat_ws(":", F.transform(groups, lambda g: F.lpad(g, 4, "0")))
    # The /48 network a:b:c:0:0:0:0:0 in RFC 5952 form: the run of zero groups from the
    # 4th on is always the longest, so drop trailing zero groups of a:b:c and append "::".
    head = F.concat(
        F.lit(":"), F.concat_ws(":", F.transform(F.slice(groups, 1, 3), _strip_leading_zeros))
    )
    v6_prefix = F.concat(
        F.regexp_replace(F.regexp_replace(head, r"(:0)+$", ""), r"^:", ""), F.lit("::/48")
    )
    df = df.select(
        "*",
        F.when(is_v4, F.lit(4)).when(is_v6, F.lit(6)).cast("int").alias("ip_version"),
        F.when(is_v4, text).when(is_v6, expanded).alias("_ip_canonical"),
        F.when(is_v4, v4_prefix).when(is_v6, v6_prefix).alias("_ip_network"),
    )
    return df.drop("_ip_given", "_ip_mapped", "_ip_text", "_ip_is_v4", "_ip6_groups")


def normalize_login_hash(login_hash: Column) -> Column:
    """``struct(value, rehashed)``: a 64-hex login hash as is (lowercased), anything else
    (e.g. a raw e-mail) trimmed, lowercased and SHA-256-hashed; empty means no login."""
    norm = F.lower(F.trim(login_hash))
    is_hash = norm.rlike(_HEX64_RE)
    present = norm.isNotNull() & (norm != "")
    return F.struct(
        F.when(is_hash, norm).when(present, F.sha2(F.encode(norm, "UTF-8"), 256)).alias("value"),
        (present & ~is_hash).alias("rehashed"),
    )


def truncate(text: Column, *, max_length: int) -> Column:
    """``struct(value, truncated)``: ``text`` cut to ``max_length`` characters."""
    too_long = F.coalesce(F.length(text) > max_length, F.lit(False))
    return F.struct(
        F.when(too_long, F.substring(text, 1, max_length)).otherwise(text).alias("value"),
        too_long.alias("truncated"),
    )


def _domain(url: Column) -> Column:
    host = F.lower(F.try_parse_url(url, F.lit("HOST")))
    return F.nullif(F.regexp_replace(host, r"^www\.", ""), F.lit(""))


def url_fields(url: Column, referrer: Column) -> Column:
    """``struct(url_domain, url_path, query_terms, topic, referrer_domain)``.

    Query terms are the lowercased word tokens of the ``q``, ``query`` and ``search``
    parameters (URL-decoded), distinct, in order of appearance. The topic is the first path
    segment, lowercased. Unparseable URLs give nulls, never an error.
    """
    path = F.try_parse_url(url, F.lit("PATH"))
    params = [
        F.try_url_decode(F.try_parse_url(url, F.lit("QUERY"), F.lit(name)))
        for name in ("q", "query", "search")
    ]
    text = F.lower(F.concat_ws(" ", *params))
    terms = F.array_distinct(F.filter(F.split(text, r"[^\p{L}\p{N}]+"), lambda t: t != ""))
    first_segment = F.lower(_at(F.split(path, "/"), 2))
    return F.struct(
        _domain(url).alias("url_domain"),
        F.nullif(path, F.lit("")).alias("url_path"),
        # Cast: VISITS declares an array that may contain nulls.
        F.when(url.isNotNull(), terms).cast("array<string>").alias("query_terms"),
        F.nullif(first_segment, F.lit("")).alias("topic"),
        _domain(referrer).alias("referrer_domain"),
    )
