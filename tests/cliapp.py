"""An app module for CLI tests: configured from the environment, as a deployed app would be."""

from __future__ import annotations

import os

from redisq import RedisQ

rq = RedisQ(default_queue=os.environ.get("CLI_QUEUE", "default"))
