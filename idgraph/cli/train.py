"""Commands: train (filled in by its area)."""

from idgraph.cli.app import app  # noqa: F401
