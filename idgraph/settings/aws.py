"""Job submission to AWS."""

from __future__ import annotations

from idgraph.settings.base import IdgraphSettings, settings_config


class AwsSettings(IdgraphSettings):
    """EMR/AWS settings (env ``IDGRAPH_AWS_*``)."""

    model_config = settings_config("AWS_")

    region: str = "eu-west-1"
    """AWS region of the EMR cluster and buckets."""
