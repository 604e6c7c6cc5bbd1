"""idgraph: identity graph for first-party cookies."""

__version__ = "0.1.0"
