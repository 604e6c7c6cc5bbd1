"""The household level: person components that share a home network over many days.

A household is a connected component over a looser edge than the person level's: two person
components (``identity_graph``'s unified IDs) are joined when both used the same
**residential network** on enough days of the window. Evidence comes from
``cookie_features.home_networks`` (``spark_jobs/etl/features.py``): per cookie, the networks it
used on the most days, with the number of days and of weekend days. A network is an IPv4
address (its keyed hash) or an IPv6 /48 prefix (privacy addresses change every session inside
a home's prefix; the ETL keeps nothing finer).

- A network is **residential** when few cookies use it over the window (at most
  ``max_network_cookies``: a home, not a carrier's CGNAT pool or a café's hotspot) and a fair
  share of its cookie-days fall on a weekend (at least ``min_weekend_share``: an office is
  empty on Saturdays and Sundays, a home is not). Busier networks are skipped and counted,
  never expanded.
- A person is a **home member** of a residential network when one of its cookies used it on at
  least ``min_days`` distinct days.
- Every home member of a network is joined to the network (a star, one edge per member: linear
  in the memberships, no pair enumeration), and connected components over persons and
  networks give the households. Two persons of one household need not share a network
  directly: a chain through a second home (a move, a reassigned address) joins them too.
- Size cap: a household with more than ``max_household_cookies`` cookies is not a home (a chain
  of networks went wrong); it is dissolved, each of its persons a household alone, and counted.

A person with no residential network is a household alone. The household's label is the
smallest label of its persons, so the ids stay as stable as the persons under them
(``stable_ids.assign_household_ids`` keeps them across days).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from spark_jobs.graph.connected_components import connected_components

log = logging.getLogger(__name__)

KEYS = ["site_id", "cookie_id"]


@dataclass(frozen=True)
class HouseholdResult:
    """Households of the day's cookies and what building them did.

    Attributes:
        households: ``site_id``, ``cookie_id``, ``household`` (long label), ``household_size``
            (cookies), ``household_persons`` (person components).
        networks: residential networks with two or more home members (the ones that join).
        skipped_networks: networks over ``max_network_cookies`` (never expanded).
        skipped_cookies: cookie memberships of those networks.
        dissolved: households over the size cap, dissolved into their persons.
        evidence: False when ``cookie_features`` carried no ``home_networks`` (older lakes):
            every person is then a household alone.
    """

    households: DataFrame
    networks: int
    skipped_networks: int
    skipped_cookies: int
    dissolved: int
    evidence: bool


def residential_network(
    *, max_network_cookies: int, min_weekend_share: float, max_network_agents: int = 0
) -> Column:
    """Rule over a network's window figures (``n_cookies``, ``n_agents``, ``cookie_days``,
    ``weekend_cookie_days``): few cookies, few browsers (``max_network_agents``, 0: any), and
    active at weekends."""
    share = F.col("weekend_cookie_days") / F.greatest(F.col("cookie_days"), F.lit(1))
    rule = (F.col("n_cookies") <= max_network_cookies) & (share >= min_weekend_share)
    if max_network_agents:
        rule = rule & (F.col("n_agents") <= max_network_agents)
    return rule


def home_member(*, min_days: int, max_rank: int = 0) -> Column:
    """Rule over a cookie's use of a network (``n_days``, ``network_rank``): seen there on
    ``min_days``+ days, and the network among the cookie's ``max_rank`` most used (0: any)."""
    rule = F.col("n_days") >= min_days
    if max_rank:
        rule = rule & (F.col("network_rank") <= max_rank)
    return rule


def memberships(features: DataFrame) -> DataFrame | None:
    """``site_id``, ``cookie_id``, ``ua_hash``, ``network``, ``n_days``, ``weekend_days`` and
    ``network_rank`` (1: the network the cookie used on the most days) from ``cookie_features``
    (None when it has no ``home_networks``)."""
    if "home_networks" not in features.columns:
        return None
    agent = F.col("ua_hash") if "ua_hash" in features.columns else F.lit(None).cast("string")
    by_use = Window.partitionBy(*KEYS).orderBy(
        F.col("n_days").desc(), F.col("n_events").desc(), F.col("network")
    )
    return (
        features.select(*KEYS, agent.alias("ua_hash"), F.inline("home_networks"))
        .withColumn("network_rank", F.row_number().over(by_use))
        .select(*KEYS, "ua_hash", "network", "n_days", "weekend_days", "network_rank")
    )


def network_figures(used: DataFrame) -> DataFrame:
    """Per network: ``n_cookies``, ``n_agents`` (distinct user-agent strings),
    ``cookie_days`` and ``weekend_cookie_days`` over the window."""
    return used.groupBy("network").agg(
        F.count(F.lit(1)).alias("n_cookies"),  # one row per (cookie, network) already
        F.count_distinct("ua_hash").alias("n_agents"),
        F.sum("n_days").alias("cookie_days"),
        F.sum("weekend_days").alias("weekend_cookie_days"),
    )


def _alone(persons: DataFrame) -> DataFrame:
    size = F.count(F.lit(1)).over(Window.partitionBy("person"))
    return persons.select(
        *KEYS,
        F.col("person").alias("household"),
        size.cast("long").alias("household_size"),
        F.lit(1).cast("long").alias("household_persons"),
    )


def build_households(
    persons: DataFrame,
    features: DataFrame,
    *,
    min_days: int,
    min_weekend_share: float,
    max_network_cookies: int,
    max_household_cookies: int,
    cc_options: dict[str, Any],
    max_network_agents: int = 0,
    max_network_rank: int = 0,
    max_household_networks: int = 0,
) -> HouseholdResult:
    """Group the day's person components into households.

    Args:
        persons: ``site_id``, ``cookie_id``, ``person`` (long: the person component's label).
        features: the day's ``cookie_features`` (opt-outs dropped), with ``home_networks``.
        min_days: days on a network that make a cookie's person a home member of it.
        min_weekend_share: weekend share of a network's cookie-days that makes it a home.
        max_network_cookies: a network with more cookies is skipped (counted).
        max_household_cookies: a household with more cookies is dissolved (counted).
        cc_options: keyword arguments of ``connected_components``.
        max_network_agents: a network with more distinct user agents is not a home (0: any).
        max_network_rank: only a cookie's this many most-used networks make it a member.
        max_household_networks: a household joined over more home networks than this is a
            chain of wrong person links, not a home: dissolved like an oversized one (0: any).

    Returns:
        ``HouseholdResult``.
    """
    used = memberships(features)
    if used is None:
        return HouseholdResult(_alone(persons), 0, 0, 0, 0, False)
    used = used.join(persons.select(*KEYS, "person"), KEYS).localCheckpoint()
    figures = network_figures(used).localCheckpoint()
    skipped = (
        figures.where(F.col("n_cookies") > max_network_cookies)
        .agg(
            F.count(F.lit(1)).alias("networks"),
            F.coalesce(F.sum("n_cookies"), F.lit(0)).alias("cookies"),
        )
        .first()
    )
    assert skipped is not None
    homes = figures.where(
        residential_network(
            max_network_cookies=max_network_cookies,
            min_weekend_share=min_weekend_share,
            max_network_agents=max_network_agents,
        )
    ).select("network")
    members = (
        used.where(home_member(min_days=min_days, max_rank=max_network_rank))
        .join(homes, "network", "left_semi")
        .select("person", "network")
        .distinct()
    )
    # Only networks with two or more member persons join anybody.
    joining = (
        members.groupBy("network")
        .agg(F.count(F.lit(1)).alias("n"))
        .where(F.col("n") >= 2)
        .select("network")
    )
    edges = (
        members.join(joining, "network", "left_semi")
        .select(F.col("person").alias("src"), F.xxhash64(F.lit("net"), "network").alias("dst"))
        .localCheckpoint()
    )
    n_networks = edges.select("dst").distinct().count()
    person_ids = persons.select(F.col("person").alias("id")).distinct()
    labels = connected_components(
        edges, person_ids.unionByName(edges.select(F.col("dst").alias("id"))), **cc_options
    ).components
    per_person = person_ids.join(labels, "id").select(
        F.col("id").alias("person"), F.col("component").alias("_cc")
    )
    cookies = persons.select(*KEYS, "person").join(per_person, "person")
    per_cc = cookies.groupBy("_cc").agg(
        F.min("person").alias("_label"),
        F.count(F.lit(1)).alias("_size"),
        F.count_distinct("person").alias("_persons"),
    )
    homes_per_cc = (
        labels.join(edges.select(F.col("dst").alias("id")).distinct(), "id", "left_semi")
        .groupBy(F.col("component").alias("_cc"))
        .agg(F.count(F.lit(1)).alias("_homes"))
    )
    grouped = (
        cookies.join(per_cc, "_cc")
        .join(homes_per_cc, "_cc", "left")
        .withColumn("_homes", F.coalesce("_homes", F.lit(0)))
        .localCheckpoint()
    )
    too_big = F.col("_size") > max_household_cookies
    if max_household_networks:
        too_big = too_big | (F.col("_homes") > max_household_networks)
    dissolved = grouped.where(too_big).select("_label").distinct().count()
    if dissolved:
        log.warning(
            "households: %d above %d cookies or %d home networks dissolved into their persons",
            dissolved,
            max_household_cookies,
            max_household_networks,
        )
    kept = grouped.where(~too_big).select(
        *KEYS,
        F.col("_label").alias("household"),
        F.col("_size").cast("long").alias("household_size"),
        F.col("_persons").cast("long").alias("household_persons"),
    )
    households = kept.unionByName(_alone(grouped.where(too_big)))
    return HouseholdResult(
        households,
        n_networks,
        int(skipped["networks"]),
        int(skipped["cookies"]),
        dissolved,
        True,
    )
