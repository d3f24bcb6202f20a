"""`python -m redisq.cli`: how `worker --processes` and `--reload` start their children."""

from redisq.cli import run

run()
