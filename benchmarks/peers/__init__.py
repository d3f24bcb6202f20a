"""One adapter per system (same interface, base.py), the tasks module each system's workers load, and the
measuring code they all go through (measure.py). Adapters import their library lazily."""

from __future__ import annotations

# The order of the report. Each name is a module here (its adapter) with a `<name>_tasks` module beside it.
SYSTEMS = ("redisq", "arq", "saq", "rq", "celery", "taskiq", "dramatiq", "huey")
