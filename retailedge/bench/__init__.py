"""Benchmarks: each prints one JSON object with its figure and a same-run baseline."""
