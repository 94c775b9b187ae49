"""Benchmarks: load generator, peers, results (see bench/README.md)."""
