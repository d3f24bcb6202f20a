"""Run one delivery and decide its settlement: ok, retry later, or dead."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import time
import traceback
from collections.abc import Coroutine
from typing import Any

from .. import codec, context
from ..client import RedisQ
from ..errors import SerializationError
from ..job import JobError
from ..keys import make_job_id
from ..limits import RateLimited
from ..task import Task
from .leases import LeaseKeeper
from .protocol import Delivery, Running, Settlement
from .threads import JobThreadPool

log = logging.getLogger("redisq.worker")


class JobTimeout(Exception):
    """The job ran past its timeout (reported as its error type)."""


def error_json(exc: BaseException) -> bytes:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return JobError(type(exc).__qualname__, str(exc), tb).to_json()


def _dead(kind: str, message: str) -> bytes:
    return JobError(kind, message, "").to_json()


class Runner:
    def __init__(self, rq: RedisQ, pool: JobThreadPool, leases: LeaseKeeper, lease_s: float) -> None:
        self._rq = rq
        self._pool = pool
        self._leases = leases
        self._lease_s = lease_s

    def _refuse(self, d: Delivery, kind: str, message: str) -> Settlement:
        log.error("job %s:%s sent to the dead letters unexecuted: %s: %s", d.queue, d.uid, kind, message)
        return Settlement(d, "dead", _dead(kind, message))

    async def run(self, d: Delivery, running: Running | None = None) -> Settlement:
        """Never raises but CancelledError (shutdown: the caller releases the job). `running` learns the
        task's name once the payload is decoded (the heartbeat shows it)."""
        key = self._rq.settings.signing_key
        if key is not None and not codec.verify(d.payload, d.signature, key):
            return self._refuse(d, "BadSignature", "payload signature does not match the signing key")
        try:
            envelope = codec.decode_envelope(d.payload)
        except codec.MalformedPayload as exc:
            return self._refuse(d, "MalformedPayload", str(exc))
        task = self._rq.tasks.get(envelope["task"])
        if running is not None:
            running.task = envelope["task"]
        if task is None:
            return self._refuse(
                d, "UnknownTask", f"no task registered as {envelope['task']!r} in this worker"
            )
        try:
            args, kwargs = task.coerce(envelope["args"], envelope["kwargs"])
        except Exception as exc:  # arguments that do not fit the signature never will: no retry
            return self._refuse(d, "BadArguments", f"{type(exc).__name__}: {exc}")
        meta = envelope["meta"]
        timeout = meta.get("timeout", task.options.timeout_s)
        renew_until = None if timeout is None else time.monotonic() + timeout + self._lease_s
        self._leases.hold(d.queue, d.uid, d.token, renew_until)
        # What the job (and jobs it enqueues, and its log lines) can see of itself; reset afterwards.
        job_token = context.current_job.set(
            context.JobContext(make_job_id(d.queue, d.uid), d.queue, task.name, d.attempt, d.max_attempts)
        )
        request_token = context.request_id.set(meta.get("request_id"))
        trace_token = context.traceparent.set(meta.get("traceparent"))
        try:
            result = await self._call(task, args, kwargs, timeout)
            return Settlement(d, "ok", codec.dumps(result, "result"))
        except SerializationError as exc:
            return Settlement(d, "dead", _dead("SerializationError", f"result not JSON-encodable: {exc}"))
        except asyncio.CancelledError:
            raise
        except RateLimited as exc:  # not a failure: back without spending the attempt, its limits paused
            log.info("job %s:%s rate limited; due again in %.2fs", d.queue, d.uid, exc.retry_after_s)
            return Settlement(d, "defer", b"", int((time.time() + exc.retry_after_s) * 1000))
        except BaseException as exc:  # SystemExit or KeyboardInterrupt from job code fails the job only
            return self._failure(d, task, exc)
        finally:
            context.traceparent.reset(trace_token)
            context.request_id.reset(request_token)
            context.current_job.reset(job_token)

    def _failure(self, d: Delivery, task: Task[Any, Any], exc: BaseException) -> Settlement:
        if d.attempt < d.max_attempts:
            delay_s = task.options.backoff.delay_s(d.attempt)
            log.info(
                "job %s:%s attempt %d/%d failed (%s); retry in %.2fs",
                d.queue,
                d.uid,
                d.attempt,
                d.max_attempts,
                type(exc).__name__,
                delay_s,
            )
            return Settlement(d, "retry", error_json(exc), int((time.time() + delay_s) * 1000))
        log.warning("job %s:%s failed its last attempt %d: %r", d.queue, d.uid, d.attempt, exc)
        return Settlement(d, "dead", error_json(exc))

    async def _call(
        self, task: Task[Any, Any], args: list[Any], kwargs: dict[str, Any], timeout: float | None
    ) -> Any:
        if task.is_async:
            # Awaited in this task, not a new one: a shutdown's cancellation reaches the job directly.
            if timeout is None:
                return await task.fn(*args, **kwargs)
            return await _with_timeout(task.fn(*args, **kwargs), timeout)
        thread_job = self._pool.submit(functools.partial(task.fn, *args, **kwargs))
        try:
            if timeout is None:
                return await thread_job.future
            done, _ = await asyncio.wait({thread_job.future}, timeout=timeout)
        except asyncio.CancelledError:
            self._pool.abandon(thread_job)
            raise
        if not done:
            self._pool.abandon(thread_job)
            raise JobTimeout(f"sync job ran past its timeout of {timeout}s; its thread was written off")
        return thread_job.future.result()


async def _with_timeout(coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
    """Cancel the job at its timeout, telling that apart from a TimeoutError the job raises itself."""
    if sys.version_info >= (3, 11):
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                return await coro
        except TimeoutError:
            if scope.expired():
                raise JobTimeout(f"async job ran past its timeout of {timeout}s and was cancelled") from None
            raise
    inner = asyncio.ensure_future(coro)  # Python 3.10: a task of its own, cancelled at the deadline
    try:
        done, _ = await asyncio.wait({inner}, timeout=timeout)
    except asyncio.CancelledError:
        inner.cancel()
        raise
    if not done:
        inner.cancel()
        with contextlib.suppress(BaseException):
            await inner
        raise JobTimeout(f"async job ran past its timeout of {timeout}s and was cancelled")
    return inner.result()
