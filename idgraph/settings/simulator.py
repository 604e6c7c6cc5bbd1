"""The simulated world (``idgraph simulate``)."""

from __future__ import annotations

from pydantic import Field

from idgraph.settings.base import IdgraphSettings, settings_config


class SimulatorSettings(IdgraphSettings):
    """Simulator knobs (env ``IDGRAPH_SIM_*``). CLI flags override these."""

    model_config = settings_config("SIM_")

    people: int = Field(default=2_000, ge=1)
    """Number of people in the world."""

    seed: int = 42
    """Random seed; the same seed gives byte-identical output."""

    bad_record_rate: float = Field(default=0.0, ge=0.0, le=0.5)
    """Share of extra raw lines injected as bad records of every kind in DESIGN.md."""

    days: int = Field(default=7, ge=1, le=3_660)
    """Number of days simulated when ``--days`` is not given."""

    activity: float = Field(default=1.0, gt=0.0, le=10.0)
    """Multiplier on sessions per active person-day (1.0 gives ~10-30 events per active day)."""
