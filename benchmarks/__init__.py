"""Benchmarks: figures, not tests. `make bench` runs every ``bench_*`` module."""
