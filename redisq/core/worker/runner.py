"""Run one delivery and decide its settlement: ok, retry later, dead, or aborted; tell the middleware."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import time
import traceback
from collections.abc import Coroutine
from datetime import datetime, timezone
from typing import Any

from .. import codec, context
from ..backend import AsyncBackend
from ..client import RedisQ
from ..context import JobContext, WorkerContext
from ..errors import JobAborted, JobTimeout, RedisQError, Retry, SerializationError
from ..job import JobError
from ..keys import make_job_id
from ..limits import RateLimited
from ..task import Task
from ..tracing import Processing
from ..workflow_ops import DependencyOutcome, dependency_outcomes
from .aborts import Aborts
from .leases import LeaseKeeper
from .protocol import Delivery, Running, Settlement
from .threads import JobThreadPool

log = logging.getLogger("redisq.worker")


def error_json(exc: BaseException, note: str = "") -> bytes:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return JobError(type(exc).__qualname__, str(exc), tb, note).to_json()


def _dead(kind: str, message: str) -> bytes:
    return JobError(kind, message, "").to_json()


def _fed(feed: str | list[str] | None, dependencies: dict[str, DependencyOutcome]) -> list[Any]:
    """The first argument a chain's step takes: the result of the step before, or the list of results of
    the group before (None for one that did not succeed, under an `ignore` or `continue` policy)."""
    if feed is None:
        return []
    if isinstance(feed, str):
        return [_result_of(feed, dependencies)]
    return [[_result_of(job_id, dependencies) for job_id in feed]]


def _result_of(job_id: str, dependencies: dict[str, DependencyOutcome]) -> Any:
    outcome = dependencies.get(job_id)
    return outcome.result if outcome is not None else None


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _uncancel() -> None:
    """The job's abort was a cancellation of this task (repeated while it did not stop, see aborts.py):
    take it all back, the task goes on to settle."""
    task = asyncio.current_task()
    if task is not None and sys.version_info >= (3, 11):
        while task.cancelling():
            task.uncancel()


class Runner:
    def __init__(
        self,
        rq: RedisQ,
        pool: JobThreadPool,
        leases: LeaseKeeper,
        lease_s: float,
        aborts: Aborts,
        worker: WorkerContext | None = None,
        backend: AsyncBackend | None = None,
    ) -> None:
        self._rq = rq
        self._backend = backend  # the worker's own (None: the client's), for a job's dependencies
        self._pool = pool
        self._leases = leases
        self._lease_s = lease_s
        self._aborts = aborts
        self._worker = worker
        self._hooks = rq.hooks
        # Hooks are frozen once a worker starts: which events have middleware is known now (per job, a
        # lookup each would cost more than the event itself when there is none).
        self._before, self._after = rq.hooks.has("before"), rq.hooks.has("after")

    async def _refuse(self, d: Delivery, task: str, kind: str, message: str) -> Settlement:
        job = JobContext(make_job_id(d.queue, d.uid), d.queue, task, d.attempt, d.max_attempts, self._worker)
        token = context.current_job.set(job)  # the line below carries the job's fields (logs.py)
        try:
            log.error(
                "job %s sent to the dead letters unexecuted: %s: %s",
                job.id,
                kind,
                message,
                extra={"outcome": "refused"},
            )
            if self._hooks.has("on_dead"):
                await self._hooks.notify("on_dead", job, f"{kind}: {message}")
        finally:
            context.current_job.reset(token)
        return Settlement(d, "dead", _dead(kind, message))

    async def run(self, d: Delivery, running: Running | None = None) -> Settlement:
        """Never raises but CancelledError (shutdown: the caller releases the job). `running` learns the
        task's name once the payload is decoded (the heartbeat shows it)."""
        tracer = self._rq.tracing.tracer()
        if tracer is None:
            return await self._run(d, running, None)
        span = Processing(tracer, d)  # the attempt's `process {queue}` span (tracing.py)
        try:
            settlement = await self._run(d, running, span)
        except BaseException as exc:
            span.interrupted(exc)
            raise
        span.settled(settlement)
        return settlement

    async def _run(self, d: Delivery, running: Running | None, span: Processing | None) -> Settlement:
        key = self._rq.settings.signing_key
        if key is not None and not codec.verify(d.payload, d.signature, key):
            return await self._refuse(
                d, "", "BadSignature", "payload signature does not match the signing key"
            )
        try:
            envelope = codec.decode_envelope(d.payload)
        except codec.MalformedPayload as exc:
            return await self._refuse(d, "", "MalformedPayload", str(exc))
        if span is not None:
            span.start(envelope)
        task = self._rq.tasks.get(envelope["task"])
        d.task = envelope["task"]
        if running is not None:
            running.task = envelope["task"]
        if task is None:
            return await self._refuse(
                d,
                envelope["task"],
                "UnknownTask",
                f"no task registered as {envelope['task']!r} in this worker",
            )
        meta = envelope["meta"]
        dependencies: dict[str, DependencyOutcome] = {}
        args = envelope["args"]
        if meta.get("deps"):  # it waited for others: their outcomes, and the results it takes (issue 16)
            try:
                dependencies = await (self._backend or self._rq.backend()).run(
                    dependency_outcomes(self._rq.queue_keys, d.queue, d.uid)
                )
            except RedisQError as exc:
                log.warning(
                    "job %s:%s goes back: its dependencies could not be read: %s", d.queue, d.uid, exc
                )
                return Settlement(d, "release")
            args = _fed(meta.get("feed"), dependencies) + args
        try:
            args, kwargs = task.coerce(args, envelope["kwargs"])
        except Exception as exc:  # arguments that do not fit the signature never will: no retry
            return await self._refuse(d, task.name, "BadArguments", f"{type(exc).__name__}: {exc}")
        timeout = meta.get("timeout", task.options.timeout_s)
        if timeout is not None:  # held since its fetch; renewed no longer than its timeout allows from here
            self._leases.hold(d.queue, d.uid, d.token, time.monotonic() + timeout + self._lease_s)
        # What the job (and jobs it enqueues, and its log lines) can see of itself; reset afterwards.
        job = JobContext(
            make_job_id(d.queue, d.uid),
            d.queue,
            task.name,
            d.attempt,
            d.max_attempts,
            self._worker,
            d.enqueued_at,
            dependencies,
        )
        job_token = context.current_job.set(job)
        request_token = context.request_id.set(meta.get("request_id"))
        trace_token = context.traceparent.set(meta.get("traceparent"))
        started = time.perf_counter()
        try:
            settlement = await self._attempt(d, task, job, args, kwargs, timeout)
            took = time.perf_counter() - started
            settlement.run_ms = took * 1000
            if log.isEnabledFor(logging.INFO):  # one end line per attempt, in the job's context (logs.py)
                extra = {"outcome": settlement.outcome, "duration_s": round(took, 6)}
                log.info("job %s %s in %.3fs", job.id, settlement.outcome, took, extra=extra)
            return settlement
        finally:
            context.traceparent.reset(trace_token)
            context.request_id.reset(request_token)
            context.current_job.reset(job_token)

    async def _attempt(
        self,
        d: Delivery,
        task: Task[Any, Any],
        job: JobContext,
        args: list[Any],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> Settlement:
        # From here until the job's outcome is known, an abort reaches it: an async job's by cancelling
        # this task (which is why `before` is inside: a CancelledError there is the abort's too).
        self._aborts.track(d.uid, job, asyncio.current_task() if task.is_async else None)
        if job.aborted:  # before it started: it never does
            self._aborts.untrack(d.uid)
            return await self._aborted(d, job, None, started=False)
        try:
            if self._before:
                await self._hooks.notify("before", job)
            result = await self._call(task, args, kwargs, timeout)
        except asyncio.CancelledError as exc:
            self._aborts.untrack(d.uid)
            if not job.aborted:
                raise  # a shutdown: the worker gives the job back
            _uncancel()
            return await self._aborted(d, job, exc)
        except BaseException as exc:  # SystemExit or KeyboardInterrupt from job code fails the job only
            self._aborts.untrack(d.uid)
            if job.aborted or isinstance(exc, JobAborted):
                return await self._aborted(d, job, exc)
            if isinstance(exc, RateLimited):  # not a failure: back without spending the attempt
                log.info("job %s:%s rate limited; due again in %.2fs", d.queue, d.uid, exc.retry_after_s)
                return Settlement(d, "defer", b"", self._rq.now_ms() + int(exc.retry_after_s * 1000))
            return await self._failure(d, task, job, exc)
        self._aborts.untrack(d.uid)
        if job.aborted:  # it finished (a `def` job that did not look, a late abort): aborted all the same
            return await self._aborted(d, job, None)
        try:
            data = codec.dumps(result, "result")
        except SerializationError as exc:
            if self._hooks.has("on_dead"):
                await self._hooks.notify("on_dead", job, exc)
            return Settlement(d, "dead", _dead("SerializationError", f"result not JSON-encodable: {exc}"))
        if self._after:
            await self._hooks.notify("after", job, result)
        return Settlement(d, "ok", data)

    async def _aborted(
        self, d: Delivery, job: JobContext, exc: BaseException | None, started: bool = True
    ) -> Settlement:
        if not started:
            message = "aborted before it started"
        elif isinstance(exc, JobTimeout):
            message = f"aborted; it did not stop by itself and was written off at its timeout ({exc})"
        elif isinstance(exc, asyncio.CancelledError):
            message = "aborted while it ran: its task was cancelled"
        elif isinstance(exc, JobAborted):
            message = "aborted while it ran: it stopped at raise_if_aborted()"
        else:
            message = "aborted while it ran" + (f"; it then raised {exc!r}" if exc else "; it then returned")
        log.info("job %s %s", job.id, message)
        if self._hooks.has("on_abort"):
            await self._hooks.notify("on_abort", job)
        tb = "" if exc is None else "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return Settlement(d, "abort", JobError("JobAborted", message, tb).to_json())

    async def _failure(
        self, d: Delivery, task: Task[Any, Any], job: JobContext, exc: BaseException
    ) -> Settlement:
        hooks = self._hooks
        now_ms = self._rq.now_ms()
        if isinstance(exc, Retry):  # asked for, not a failure: logged as a plan, and no on_failure
            if d.attempt < d.max_attempts:
                due_ms = exc.due_ms(now_ms) or now_ms + int(task.options.backoff.delay_s(d.attempt) * 1000)
                log.info("job %s:%s asked to run again (%s)", d.queue, d.uid, exc)
                if hooks.has("on_retry"):
                    await hooks.notify("on_retry", job, exc, _at(due_ms))
                return Settlement(d, "retry", error_json(exc), due_ms)
            note = f"it asked to be retried, but attempt {d.attempt} was its last"
        else:
            if hooks.has("on_failure"):
                await hooks.notify("on_failure", job, exc)
            note = task.options.no_retry_reason(exc) or ""
            if not note and d.attempt < d.max_attempts:
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
                due_ms = now_ms + int(delay_s * 1000)
                if hooks.has("on_retry"):
                    await hooks.notify("on_retry", job, exc, _at(due_ms))
                return Settlement(d, "retry", error_json(exc), due_ms)
        if note and not isinstance(exc, Retry):
            log.warning(
                "job %s:%s failed with an error that is not retried: %r (%s)", d.queue, d.uid, exc, note
            )
        else:
            log.warning("job %s:%s failed its last attempt %d: %r", d.queue, d.uid, d.attempt, exc)
        if hooks.has("on_dead"):
            await hooks.notify("on_dead", job, exc)
        return Settlement(d, "dead", error_json(exc, note))

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
