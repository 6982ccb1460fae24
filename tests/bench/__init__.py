"""Benchmarks: `make bench` or `python -m tests.bench [--quick]`; each prints figures, targets and ratios."""
