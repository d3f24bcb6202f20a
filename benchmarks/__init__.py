"""Benchmarks: `nox -s bench` or `python -m benchmarks`. Not part of the test run."""
