"""The bottom layer: what every stage, the runner, the CLI and the lookup service share.

Settings, the Redis keyspace and its version registry (publish lock, switch, rollback), the
opt-out deletion rule, lake paths and stage result types. Nothing here imports pyspark or any
module above this package (``tool.importlinter`` in pyproject.toml; docs/architecture.md).
"""
