"""Identity graph building and the publish gate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from idgraph.settings.base import IdgraphSettings, settings_config


class GraphSettings(IdgraphSettings):
    """Graph settings (env ``IDGRAPH_GRAPH_*``)."""

    model_config = settings_config("GRAPH_")

    cc_implementation: Literal["dataframe", "graphframes"] = "dataframe"
    """Connected components: our large-star/small-star, or GraphFrames when its JAR is present."""

    max_component_size: int = Field(default=64, ge=2)
    """Largest component served as one person; larger ones are split."""
