"""Identity graph building and the publish gate."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from idgraph.core.settings.base import IdgraphSettings, settings_config


class GraphSettings(IdgraphSettings):
    """Graph settings (env ``IDGRAPH_GRAPH_*``)."""

    model_config = settings_config("GRAPH_")

    cc_implementation: Literal["dataframe", "graphframes", "auto"] = "dataframe"
    """Connected components: our large-star/small-star (``dataframe``), GraphFrames'
    ``connectedComponents`` (``graphframes``: fails when its JAR is missing) or ``auto``
    (GraphFrames when present, else ours)."""

    cc_prune_every: int = Field(default=2, ge=0)
    """Every this many rounds, finished components leave the working set (0: never). A prune
    that frees under 10% of the working set doubles the interval to the next one."""

    cc_max_iterations: int = Field(default=100, ge=1)
    """Safety stop for the connected-components rounds."""

    cc_partitions: int | None = Field(default=None, ge=1)
    """Shuffle partitions per round; default ``spark.sql.shuffle.partitions``."""

    max_component_size: int = Field(default=512, ge=2)
    """Largest component (in cookies) served as one person; larger ones are split. A heavy
    browser's 30-day window holds well over a hundred cookies (Safari's 7-day cap, cleared
    cookies, dozens of sites): the simulator's dense profile, shaped like real browsing
    histories, makes people of ~130 cookies and single-person components of up to 231. A cap
    of 64 split every such person (pairwise recall 0.10 against the floor's 0.79 there); 512
    keeps them whole and changes nothing on `make eval`'s world, whose largest component is
    51. Chains of people through a carrier's address grow far past it."""

    generic_login_max_cookies: int = Field(default=40, ge=2)
    """A login hash carried by more cookies than this is generic (placeholder account, shared
    kiosk) and gets no deterministic edges. Must not exceed ``max_component_size``."""

    generic_login_max_devices: int = Field(default=8, ge=1)
    """A login hash seen on more distinct (device type, OS, browser) combinations than this is
    generic too."""

    overmerge_threshold_step: float = Field(default=0.05, gt=0.0, le=0.5)
    """Over-merge protection raises the champion threshold by this much per step."""

    overmerge_max_steps: int = Field(default=8, ge=1, le=50)
    """Raised thresholds tried before a component keeps its deterministic links only."""

    split_multi_login: bool = True
    """Over-merge protection also splits components that hold two or more (non-generic) login
    hashes: scored edges through anonymous cookies joined two people known to differ."""

    session_rule_edges: bool = True
    """Add the session rule's pairs as probabilistic edges, beside the model's: a hop between
    two sites on a quiet IP-day (``candidate_pairs`` evidence, ``docs/pairs.md``). They link
    anonymous browsing before a model exists, and they are the first edges over-merge
    protection drops (score = threshold = ``session_rule_confidence``)."""

    session_rule_min_codays: int = Field(default=0, ge=0)
    """Also link two devices co-present on a quiet IP on this many days (0: never). Off by
    default: a couple's two phones on their home IP share most days, so on its own this is
    household evidence, not person evidence (on the simulator 22% of such pairs at 3 days
    are one person); the model reads it as the feature ``quiet_ip_codays``."""

    session_rule_max_evidence_rank: int = Field(default=3, ge=0)
    """A hop pair becomes a session-rule edge only if it is among the ``N`` best-evidenced
    candidates of one of its cookies (``evidence_rank``; 0: any rank). A browser that moves
    from one site to the next makes that pair one of its strongest; two people's browsers of
    one build interleaving once on a shared network make a pair that both cookies have
    better candidates than. Regraphing the last day of `make eval`'s world (1% panel), rank
    0/3/2/1 give precision/recall 0.931/0.469, 0.941/0.479, 0.944/0.481, 0.950/0.447; on a
    world of single people with ~110 cookies each (a heavy browser hops to many partners)
    0.964/0.586, 0.952/0.602, 0.954/0.571 and 1.000/0.241. The model still scores every
    pair."""

    session_rule_confidence: float = Field(default=0.8, gt=0.0, le=1.0)
    """Threshold of every session-rule edge, and the score (the confidence of the cookies it
    links) of one resting on a single hop on a single day."""

    session_rule_strong_confidence: float = Field(default=0.95, gt=0.0, le=1.0)
    """Score of a session-rule edge with hops on two or more days, or two or more quiet hops:
    over-merge protection, raising thresholds step by step, drops the single-hop edges first
    (on the simulator the closure of 2-day hops is 0.99 precise, of all quiet hops 0.84)."""

    households: bool = True
    """Build the household level (``household_id``); off: every person is a household alone."""

    household_min_days: int = Field(default=3, ge=1)
    """A person is a home member of a residential network when one of its cookies used it on
    this many distinct days of the window."""

    household_min_weekend_share: float = Field(default=0.1, ge=0.0, le=1.0)
    """A network is residential only if this share of its cookie-days fall on a weekend: an
    office is empty on Saturdays and Sundays (weekends are 2/7 = 0.29 of the days)."""

    household_max_network_cookies: int = Field(default=160, ge=2)
    """A network used by more cookies over the window is not a home (a carrier's CGNAT pool,
    an office, a café): skipped, never expanded, counted in ``health``."""

    household_max_network_agents: int = Field(default=16, ge=0)
    """A network seen with more distinct user-agent strings over the window is not a home (a
    home's few devices and browsers, against an office's or a café's many; 0: any). On
    `make eval`'s world a network of one household shows 6 (median) and 15 (99th
    percentile), one used by five households or more 13 and 29."""

    household_max_network_rank: int = Field(default=2, ge=0)
    """Only a cookie's this many most-used networks (by days) make its person a member of
    them (0: any): a home's IPv4 address and its IPv6 prefix, not the friend's flat visited
    on three evenings. On `make eval`'s world a cookie's first network is another household's
    in 0.4% of memberships, its second in 8%, its third or later in 25%."""

    household_max_networks: int = Field(default=4, ge=0)
    """A household joined over more home networks than this is dissolved into its persons
    (counted with the oversized ones; 0: any). A home has one or two (its IPv4 address and
    its IPv6 prefix; a move or a second home adds one); a household of twenty networks is a
    chain through wrong person links, each joining two homes."""

    household_max_cookies: int = Field(default=1024, ge=2)
    """Largest household (in cookies); a larger one is dissolved into its persons. Must not be
    below ``max_component_size``."""

    stable_id_match_rounds: int = Field(default=2, ge=1, le=10)
    """Rounds of mutual-best matching between today's components and yesterday's IDs."""

    gate_max_churn: float = Field(default=0.10, ge=0.0, le=1.0)
    """Gate: largest acceptable share of returning cookies whose unified ID changed."""

    gate_volume_band: float = Field(default=0.5, gt=0.0)
    """Gate: scored-pair volume must lie within median x (1 +/- band) of recent days."""

    degraded_max_edge_drop: float = Field(default=0.5, gt=0.0, le=1.0)
    """A day whose probabilistic edges fall by more than this share against the live graph's
    (the latest earlier day that was not degraded) is marked degraded, and the gate refuses it."""

    gate_history_days: int = Field(default=14, ge=1)
    """Gate: days of health history whose median scored-pair volume sets the band."""

    gate_min_history: int = Field(default=3, ge=1)
    """Gate: fewer days of history than this skips the volume check (with a note)."""

    score_histogram_bins: int = Field(default=20, ge=2, le=200)
    """Bins of the score histogram in ``health`` (equal width over [0, 1])."""

    explain_top_features: int = Field(default=5, ge=1, le=100)
    """``idgraph explain``: feature contributions shown per scored edge (the largest by
    absolute value; the others are summed into one line)."""

    explain_sample_seed: int = 0
    """``idgraph explain --sample``: which scored link of the day is picked (a hash order)."""

    feedback_max_share_per_key: float = Field(default=0.1, gt=0.0, le=1.0)
    """Training labels from feedback: no API key's verdicts may weigh more than this share of
    all feedback weight (``spark_jobs.common.feedback.feedback_labels``), so no one sender can
    steer the model."""

    feedback_cut_weight_deterministic: float = Field(default=2.0, gt=1.0)
    """Weight of a same-login edge when a ``different_people`` verdict must cut a component:
    above every score (at most 1), so scored edges are cut first."""

    @model_validator(mode="after")
    def _household_over_person_cap(self) -> Self:
        # A person already fits the person cap; a household of one must fit its own cap.
        if self.household_max_cookies < self.max_component_size:
            raise ValueError(
                "household_max_cookies must not be below max_component_size "
                f"({self.household_max_cookies} < {self.max_component_size})"
            )
        return self

    @model_validator(mode="after")
    def _generic_under_cap(self) -> Self:
        # Deterministic-only fallback relies on every login star fitting under the cap.
        if self.generic_login_max_cookies > self.max_component_size:
            raise ValueError(
                "generic_login_max_cookies must not exceed max_component_size "
                f"({self.generic_login_max_cookies} > {self.max_component_size})"
            )
        return self
