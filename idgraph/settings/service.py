"""The lookup service."""

from __future__ import annotations

from pydantic import Field

from idgraph.settings.base import IdgraphSettings, settings_config


class ServiceSettings(IdgraphSettings):
    """Lookup service settings (env ``IDGRAPH_*``, e.g. ``IDGRAPH_API_KEYS``)."""

    model_config = settings_config("")

    api_keys: str = ""
    """Comma-separated API keys accepted in ``X-API-Key``."""

    eids_source: str = "idgraph.example.com"
    """``source`` domain in the OpenRTB ``user.eids`` response."""

    port: int = Field(default=8080, ge=1, le=65535)
    """Default listening port of ``idgraph serve``."""

    def api_key_list(self) -> list[str]:
        """The configured keys, blanks dropped."""
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]
