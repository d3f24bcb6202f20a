"""`redisq schedules APP`: the periodic jobs listed, paused, resumed, run now and deleted from a shell."""

from __future__ import annotations

import os

from redisq import RedisQ

from .test_cli import redisq_cli


def test_schedules_command(redis_url: str, prefix: str, queue: str) -> None:
    rq = RedisQ(redis_url, prefix=prefix, default_queue=queue)
    try:

        @rq.task(name="cli.nightly")
        def nightly() -> None:
            return None

        rq.schedules.upsert_sync(nightly, cron="0 2 * * *", tz="Europe/Paris", id="nightly")
        env = {**os.environ, "REDISQ_URL": redis_url, "REDISQ_PREFIX": prefix, "CLI_QUEUE": queue}
        listed = redisq_cli("schedules", "tests.cliapp:rq", env=env)
        assert listed.returncode == 0, listed.stderr
        row = next(line for line in listed.stdout.splitlines() if "nightly" in line)
        assert "cron 0 2 * * * Europe/Paris" in row and "UTC" in row and "api" in row

        paused = redisq_cli("schedules", "tests.cliapp:rq", "--pause", "nightly", env=env)
        assert paused.returncode == 0 and paused.stdout.startswith("paused nightly")
        assert "paused" in next(line for line in paused.stdout.splitlines() if "cli.nightly" in line)
        assert rq.schedules.get_sync("nightly").paused

        run = redisq_cli("schedules", "tests.cliapp:rq", "--resume", "nightly", "--run", "nightly", env=env)
        assert run.returncode == 0, run.stderr
        job_id = run.stdout.splitlines()[1].removeprefix("enqueued ")
        info = rq.schedules.get_sync("nightly")
        assert not info.paused and f"{queue}:{info.last_job_uid}" == job_id
        assert rq.job(job_id).info_sync().task == "cli.nightly"

        deleted = redisq_cli("schedules", "tests.cliapp:rq", "--delete", "nightly", env=env)
        assert deleted.returncode == 0 and rq.schedules.list_sync() == []
        unknown = redisq_cli("schedules", "tests.cliapp:rq", "--pause", "nightly", env=env)
        assert unknown.returncode == 1 and "no schedule 'nightly'" in unknown.stderr
    finally:
        rq.close()
