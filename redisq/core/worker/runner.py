"""Run one delivery and decide its settlement: ok, retry later, or dead."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import traceback
from collections.abc import Iterator
from typing import Any

from .. import codec, context
from ..client import RedisQ
from ..errors import SerializationError
from ..job import JobError
from ..task import Task
from .leases import LeaseKeeper
from .protocol import Delivery, Settlement
from .threads import JobThreadPool

log = logging.getLogger("redisq.worker")


class JobTimeout(Exception):
    """The job ran past its timeout (reported as its error type)."""


def error_json(exc: BaseException) -> bytes:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return JobError(type(exc).__qualname__, str(exc), tb).to_json()


def _dead(kind: str, message: str) -> bytes:
    return JobError(kind, message, "").to_json()


@contextlib.contextmanager
def _job_context(d: Delivery, task: Task[Any, Any], meta: codec.JobMeta) -> Iterator[None]:
    tokens = (
        context.current_job.set(
            context.JobContext(f"{d.queue}:{d.uid}", d.queue, task.name, d.attempt, d.max_attempts)
        ),
        context.request_id.set(meta.get("request_id")),
        context.traceparent.set(meta.get("traceparent")),
    )
    try:
        yield
    finally:
        context.traceparent.reset(tokens[2])
        context.request_id.reset(tokens[1])
        context.current_job.reset(tokens[0])


class Runner:
    def __init__(self, rq: RedisQ, pool: JobThreadPool, leases: LeaseKeeper, lease_s: float) -> None:
        self._rq = rq
        self._pool = pool
        self._leases = leases
        self._lease_s = lease_s

    def _refuse(self, d: Delivery, kind: str, message: str) -> Settlement:
        log.error("job %s:%s sent to the dead letters unexecuted: %s: %s", d.queue, d.uid, kind, message)
        return Settlement(d, "dead", _dead(kind, message))

    async def run(self, d: Delivery) -> Settlement:
        """Never raises but CancelledError (shutdown: the caller releases the job)."""
        key = self._rq.settings.signing_key
        if key is not None and not codec.verify(d.payload, d.signature, key):
            return self._refuse(d, "BadSignature", "payload signature does not match the signing key")
        try:
            envelope = codec.decode_envelope(d.payload)
        except codec.MalformedPayload as exc:
            return self._refuse(d, "MalformedPayload", str(exc))
        task = self._rq.tasks.get(envelope["task"])
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
        with _job_context(d, task, meta):
            try:
                result = await self._call(task, args, kwargs, timeout)
                return Settlement(d, "ok", codec.dumps(result))
            except SerializationError as exc:
                return Settlement(d, "dead", _dead("SerializationError", f"result not JSON-encodable: {exc}"))
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # SystemExit or KeyboardInterrupt from job code fails the job only
                return self._failure(d, task, exc)

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
            inner = asyncio.ensure_future(task.fn(*args, **kwargs))
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
        thread_job = self._pool.submit(functools.partial(task.fn, *args, **kwargs))
        try:
            done, _ = await asyncio.wait({thread_job.future}, timeout=timeout)
        except asyncio.CancelledError:
            self._pool.abandon(thread_job)
            raise
        if not done:
            self._pool.abandon(thread_job)
            raise JobTimeout(f"sync job ran past its timeout of {timeout}s; its thread was written off")
        return thread_job.future.result()
