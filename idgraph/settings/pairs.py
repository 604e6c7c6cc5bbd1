"""Candidate generation and pair scoring."""

from __future__ import annotations

from pydantic import Field

from idgraph.settings.base import IdgraphSettings, settings_config


class PairSettings(IdgraphSettings):
    """Candidate/scoring settings (env ``IDGRAPH_PAIRS_*``)."""

    model_config = settings_config("PAIRS_")

    max_block_size: int = Field(default=50, ge=2)
    """Blocks with more cookies than this are skipped (and counted), never expanded."""
