"""The simulated world (``idgraph simulate``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from idgraph.core.settings.base import IdgraphSettings, settings_config

DENSE_PEOPLE = 120  # the dense profile's world when no number of people is given


class SimulatorSettings(IdgraphSettings):
    """Simulator knobs (env ``IDGRAPH_SIM_*``). CLI flags override these."""

    model_config = settings_config("SIM_")

    people: int = Field(default=2_000, ge=1)
    """Number of people in the world (default 2000, or 120 with the dense profile)."""

    seed: int = 42
    """Random seed; the same seed gives byte-identical output."""

    bad_record_rate: float = Field(default=0.0, ge=0.0, le=0.5)
    """Share of extra raw lines injected as bad records of every kind in docs/bad-input.md."""

    days: int = Field(default=7, ge=1, le=3_660)
    """Number of days simulated when ``--days`` is not given."""

    activity: float = Field(default=1.0, gt=0.0, le=10.0)
    """Multiplier on sessions per active person-day (1.0 gives ~10-30 events per active day)."""

    panel_share: float = Field(default=0.01, ge=0.0, le=1.0)
    """Share of the people in the consented measurement panel (``raw/panel/``): a fixed
    number of people, drawn independently of who logs in; 0 writes empty panel drops."""

    profile: Literal["default", "dense"] = "default"
    """World shape: ``default`` (many people, ~12 sites each) or ``dense`` (few people with
    ~140 cookies each over a month, whole households behind one home IP packed into a few
    /24 prefixes; see docs/simulator.md)."""

    @model_validator(mode="after")
    def _dense_people(self) -> SimulatorSettings:
        """The dense profile defaults to a small world when ``people`` is not set."""
        if self.profile == "dense" and "people" not in self.model_fields_set:
            self.people = DENSE_PEOPLE
        return self
