"""Testing utilities for your own tests: run jobs in-process, move the clock, eager mode, and a pytest
plugin (`pytest_plugins = ["redisq.testing.pytest_plugin"]`) with a throwaway Redis per session and a
fresh key prefix per test. See the README, "Testing your tasks"."""

from .drain import DrainReport, Failure, advance, drain, drain_sync
from .eager import eager

__all__ = ["DrainReport", "Failure", "advance", "drain", "drain_sync", "eager"]
