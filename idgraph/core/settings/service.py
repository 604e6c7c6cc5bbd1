"""The lookup service."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from idgraph.core.settings.base import IdgraphSettings, settings_config


class ServiceSettings(IdgraphSettings):
    """Lookup service settings (env ``IDGRAPH_*``, e.g. ``IDGRAPH_API_KEYS``)."""

    model_config = settings_config("")

    api_keys: str = ""
    """Comma-separated API keys accepted in ``X-API-Key``."""

    feedback_api_keys: str = ""
    """Comma-separated API keys accepted by ``POST /v1/feedback`` (its own scope: a lookup key
    gets 403 there, and these keys are not needed for lookups)."""

    feedback_rate_limit: int = Field(default=60, ge=1)
    """Feedback requests one key may make per window; more get 429 until the window ends."""

    feedback_rate_window_s: int = Field(default=60, ge=1, le=86_400)
    """Length of the fixed rate-limit window, in seconds."""

    feedback_max_body_bytes: int = Field(default=4096, ge=256, le=1_048_576)
    """Largest feedback body read; a larger one gets 413 unread."""

    max_body_bytes: int = Field(default=524_288, ge=1024, le=16_777_216)
    """Largest request body read by any route; larger (declared or streamed) get 413 unread.
    A full batch of 1,000 cookies with 128-character ids is ~290 kB."""

    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    """Largest request line plus headers; larger get 431 (``lookup_service.http``)."""

    eids_source: str = "idgraph.example.com"
    """``source`` domain in the OpenRTB ``user.eids`` response."""

    eids_household_source: str = "household.idgraph.example.com"
    """``source`` of the second ``user.eids`` entry, the cookie's household id (an id of its
    own, so a buyer never takes a household for a person)."""

    eids_household_atype: int = Field(default=501, ge=1)
    """``atype`` of the household uid: AdCOM 1.0 defines 1-3 (device, in-app, person) and
    leaves 500+ to vendors; a household is none of the three."""

    api_docs: Literal["off", "key", "open"] = "key"
    """``/docs``, ``/redoc`` and ``/openapi.json``: ``off`` (404, as an unknown path; the
    container image and the ECS task set it), ``key`` (401 without a lookup or feedback key in
    ``X-API-Key``), ``open`` (anyone; local use in a browser)."""

    port: int = Field(default=8080, ge=1, le=65535)
    """Default listening port of ``idgraph serve``."""

    def api_key_list(self) -> list[str]:
        """The configured keys, blanks dropped."""
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    def feedback_key_list(self) -> list[str]:
        """The configured feedback keys, blanks dropped."""
        return [k.strip() for k in self.feedback_api_keys.split(",") if k.strip()]
