"""A standalone worker's second signal cuts the grace period short, and still loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redisq import JobState, RedisQ

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_second_signal_forces_a_prompt_exit_and_gives_jobs_back(
    redis_url: str, prefix: str, queue: str, sig: signal.Signals
) -> None:
    rq = RedisQ(redis_url, prefix=prefix, default_queue=queue)

    @rq.task(name="sig.long")
    async def long(seconds: float) -> str:
        return "never here"

    jobs = rq.enqueue_many_sync([long.call(30) for _ in range(4)])
    env = {**os.environ, "REDISQ_URL": redis_url, "SIG_PREFIX": prefix, "SIG_QUEUE": queue}
    command = [
        sys.executable,
        "-c",
        "from redisq.cli import run; run()",
        "worker",
        "tests.sigapp:rq",
        "--grace",
        "60",
        "--concurrency",
        "4",
    ]
    with subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True) as worker:
        try:
            client = rq.backend_sync().client
            deadline = time.monotonic() + 15
            while int(client.get(f"{prefix}:started") or 0) < 4:
                assert time.monotonic() < deadline, "jobs did not start"
                time.sleep(0.05)
            worker.send_signal(sig)
            time.sleep(0.5)
            assert worker.poll() is None  # draining: 60 s of grace
            stopped = time.monotonic()
            worker.send_signal(sig)
            code = worker.wait(15)
            took = time.monotonic() - stopped
        finally:
            worker.kill()
        stderr = worker.stderr.read() if worker.stderr else ""
    assert code == 0, stderr
    assert took < 10, f"forced stop took {took:.1f}s"
    assert "gave back 4 unfinished jobs" in stderr
    for job in jobs:
        info = job.info_sync()
        assert (info.state, info.attempts) == (JobState.QUEUED, 0)
    rq.close()
