"""One adapter per system (same interface, base.py), the tasks module each system's workers load, and the
measuring code they all go through (measure.py). Adapters import their library lazily."""

from __future__ import annotations

# The order of the report. Each name is a module here (its adapter; a dash in the name is an underscore in
# the module's) with, for a Python system, a `<module>_tasks` module beside it that its workers load.
SYSTEMS = (
    "redisq",
    "bullmq-node",
    "bullmq",
    "streaq",
    "arq",
    "saq",
    "rq",
    "celery",
    "taskiq",
    "dramatiq",
    "huey",
)
