"""Tasks: a function registered under a name, with the options its jobs carry."""

from __future__ import annotations

import hashlib
import inspect
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar

from . import codec
from .errors import ConfigurationError
from .job import DEFAULT_MAX_ATTEMPTS
from .keys import check_queue_name
from .limits import Limit, job_limits

if TYPE_CHECKING:
    from .client import RedisQ
    from .jobs import Job

P = ParamSpec("P")
R = TypeVar("R")

MAX_PRIORITY = 1000  # |priority| bound that keeps queue scores exact in a double (see common.lua)


@dataclass(frozen=True)
class Dedupe:
    """What another enqueue with the same key (`unique=`, or `key=` per call) does. Without one, it returns
    the job that holds the key for as long as that job's record is kept. With one (issue 16):

    - `Dedupe.throttle(s)`: the first call takes the key for `s` seconds, and the calls within them return
      its job, whatever became of it; the first call after them creates a job again.
    - `Dedupe.debounce(s)`: each job runs `s` seconds after its call, and a later call with the key
      replaces it if it has not started (the replaced job ends cancelled, so its waiters hear of it): of
      a burst of calls less than `s` apart, only the last runs, with its arguments.
    - `Dedupe.keep_last_if_active()`: while the job holding the key runs, the calls collapse into one
      follow-up job that runs after it, with the newest call's arguments (a job waiting for another:
      workflow.lua). Without `unique=` or `key=`, the key is the task's name: any arguments collapse.
    """

    mode: Literal["throttle", "debounce", "keep_last"]
    window_s: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in ("throttle", "debounce", "keep_last"):
            raise ConfigurationError(
                f"Dedupe mode must be throttle, debounce or keep_last, got {self.mode!r}"
            )
        if self.mode != "keep_last" and not (self.window_s >= 0.001 and math.isfinite(self.window_s)):
            raise ConfigurationError(f"a {self.mode} window must be 1 ms or more, got {self.window_s!r}")

    @classmethod
    def throttle(cls, seconds: float) -> Dedupe:
        return cls("throttle", seconds)

    @classmethod
    def debounce(cls, seconds: float) -> Dedupe:
        return cls("debounce", seconds)

    @classmethod
    def keep_last_if_active(cls) -> Dedupe:
        return cls("keep_last")

    @property
    def window_ms(self) -> int:
        return round(self.window_s * 1000)


@dataclass(frozen=True)
class Backoff:
    """Delay before a retry. Exponential: base * factor^(attempt-1), capped, with equal jitter."""

    kind: Literal["exponential", "fixed"] = "exponential"
    base_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 300.0
    jitter: bool = True

    @classmethod
    def exponential(
        cls, base_s: float = 1.0, factor: float = 2.0, cap_s: float = 300.0, jitter: bool = True
    ) -> Backoff:
        return cls("exponential", base_s, factor, cap_s, jitter)

    @classmethod
    def fixed(cls, seconds: float) -> Backoff:
        return cls("fixed", seconds, 1.0, seconds, False)

    def delay_s(self, attempt: int) -> float:
        """Delay after failed attempt number `attempt` (1-based)."""
        if self.kind == "fixed":
            return self.base_s
        delay = min(self.cap_s, self.base_s * self.factor ** max(0, attempt - 1))
        if self.jitter:  # half fixed, half random: spreads a thundering herd, keeps a floor
            delay = delay / 2 + random.uniform(0, delay / 2)
        return delay


@dataclass(frozen=True)
class TaskOptions:
    queue: str | None = None  # None: the client's default queue
    priority: int = 0  # higher runs first within a queue
    timeout_s: float | None = None
    # attempts = retries + 1; a delivery lost with its worker counts as one
    retries: int = DEFAULT_MAX_ATTEMPTS - 1
    backoff: Backoff = Backoff()
    ttl_s: float | None = None  # expire if not started within this time of enqueue
    result_ttl_s: int | None = None  # None: Settings.result_ttl_s
    unique: bool | Callable[..., str] = False  # True: key from task name and arguments
    dedupe: Dedupe | None = None  # what another call with the key does (None: return the job holding it)
    # Which errors spend an attempt and retry: with `retry_on`, only those (and subclasses); errors in
    # `give_up_on` never. An error that may not retry sends the job to the dead letters at once.
    retry_on: tuple[type[BaseException], ...] | None = None
    give_up_on: tuple[type[BaseException], ...] = ()
    limits: tuple[Limit, ...] = ()  # rate and concurrency limits its jobs count against (limits.py)

    def __post_init__(self) -> None:
        if self.queue is not None:  # never "" for the default queue (issue 11): None says that
            check_queue_name(self.queue, "queue")
        if not -MAX_PRIORITY <= self.priority <= MAX_PRIORITY:
            raise ConfigurationError(f"priority must be within ±{MAX_PRIORITY}, got {self.priority}")
        if self.retries < 0:
            raise ConfigurationError("retries must be 0 or more")
        for name in ("retry_on", "give_up_on"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, tuple)
                and all(isinstance(c, type) and issubclass(c, BaseException) for c in value)
            ):
                raise ConfigurationError(f"{name} must be a tuple of exception classes, got {value!r}")
        for name in ("timeout_s", "ttl_s", "result_ttl_s"):
            value = getattr(self, name)
            # `not > 0` and isfinite: NaN passes `<= 0`, and JSON would carry it as null (issue 11)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ConfigurationError(f"{name} must be a positive finite number, got {value!r}")

    def no_retry_reason(self, exc: BaseException) -> str | None:
        """Why `exc` must not be retried under these options, or None if it may be."""
        if self.give_up_on and isinstance(exc, self.give_up_on):
            return f"{type(exc).__name__} is one of the task's give_up_on errors: not retried"
        if self.retry_on is not None and not isinstance(exc, self.retry_on):
            allowed = ", ".join(c.__name__ for c in self.retry_on) or "none"
            return f"{type(exc).__name__} is not one of the task's retry_on errors ({allowed}): not retried"
        return None


@dataclass(frozen=True)
class CallOptions:
    """Per-call overrides; None keeps the task's option."""

    queue: str | None = None
    priority: int | None = None
    delay_s: float | None = None
    eta: datetime | None = None
    timeout_s: float | None = None
    retries: int | None = None
    ttl_s: float | None = None
    result_ttl_s: int | None = None
    key: str | None = None
    dedupe: Dedupe | None = None
    # Jobs (Job, job id, or workflow.Dependency with its failure policy) that must end before this one
    # starts (issue 16): it waits in state `waiting` until then.
    depends_on: Sequence[Any] | None = None

    def __post_init__(self) -> None:
        if self.queue is not None:  # raised here, where the caller gave it, not when the job is sent
            check_queue_name(self.queue, "queue")
        if self.depends_on is not None:
            if isinstance(self.depends_on, str) or not isinstance(self.depends_on, Iterable):
                raise ConfigurationError(f"depends_on must be a list of jobs, got {self.depends_on!r}")
            object.__setattr__(self, "depends_on", tuple(self.depends_on))


# Not frozen: a frozen dataclass sets each field through object.__setattr__, ~0.7 us more per job.
@dataclass(slots=True)
class JobSpec:
    """One job ready to enqueue: what `task.call(...)` returns, for `enqueue_many`. Treat as read-only."""

    task: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: TaskOptions
    queue: str
    due_ms: int  # 0: now
    expires_ms: int  # 0: never
    unique_key: str
    limits: str = ""  # the record's `limits` field: the specs of the limits it counts against
    depends_on: tuple[Any, ...] = ()  # CallOptions.depends_on

    def encode(self, meta: codec.JobMeta, max_bytes: int, version: int = codec.ENVELOPE_VERSION) -> bytes:
        return codec.encode_envelope(self.task, self.args, self.kwargs, meta, max_bytes, version)


def resolve_spec(
    name: str,
    options: TaskOptions,
    default_queue: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    call: CallOptions | None,
    now_ms: int,
) -> JobSpec:
    opts = options
    if call is not None:
        overrides: dict[str, Any] = {
            k: v
            for k, v in (
                ("queue", call.queue),
                ("priority", call.priority),
                ("timeout_s", call.timeout_s),
                ("retries", call.retries),
                ("ttl_s", call.ttl_s),
                ("result_ttl_s", call.result_ttl_s),
                ("dedupe", call.dedupe),
            )
            if v is not None
        }
        if overrides:
            opts = replace(options, **overrides)
    due_ms = 0
    if call is not None and call.eta is not None:
        eta = call.eta if call.eta.tzinfo else call.eta.replace(tzinfo=timezone.utc)
        due_ms = int(eta.timestamp() * 1000)
    elif call is not None and call.delay_s:
        due_ms = now_ms + int(call.delay_s * 1000)
    if opts.dedupe is not None and opts.dedupe.mode == "debounce":
        due_ms = max(due_ms, now_ms + opts.dedupe.window_ms)  # runs once its window has passed
    start_ms = max(due_ms, now_ms)
    expires_ms = start_ms + int(opts.ttl_s * 1000) if opts.ttl_s else 0
    key = call.key if call is not None and call.key is not None else ""
    if not key and (opts.unique or opts.dedupe is not None):  # a dedupe without a key: task and arguments
        if callable(opts.unique):
            key = str(opts.unique(*args, **kwargs))
        elif opts.dedupe is not None and opts.dedupe.mode == "keep_last":  # the newest arguments win
            key = name
        else:
            key = hashlib.sha256(codec.dumps([name, list(args), kwargs])).hexdigest()
    queue = default_queue if opts.queue is None else opts.queue
    limits = job_limits(opts.limits, args, kwargs) if opts.limits else ""
    depends_on = tuple(call.depends_on) if call is not None and call.depends_on else ()
    return JobSpec(name, args, kwargs, opts, queue, due_ms, expires_ms, key, limits, depends_on)


class Task(Generic[P, R]):
    """A registered function. Call it to run it here; `enqueue`/`delay` to run it on a worker."""

    def __init__(self, rq: RedisQ, fn: Callable[P, R], name: str, options: TaskOptions) -> None:
        self.rq = rq
        self.fn = fn
        self.name = name
        self.options = options
        self.is_async = inspect.iscoroutinefunction(fn)
        self.coerce = codec.ArgumentCoercer(fn)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<Task {self.name} queue={self.queue}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    @property
    def queue(self) -> str:
        return self.rq.settings.default_queue if self.options.queue is None else self.options.queue

    def with_options(self, **overrides: Any) -> BoundTask[P, R]:
        """Per-call options: queue, priority, delay_s, eta, timeout_s, retries, ttl_s, result_ttl_s, key,
        dedupe, depends_on."""
        return BoundTask(self, CallOptions(**overrides))

    def call(self, *args: P.args, **kwargs: P.kwargs) -> JobSpec:
        return self._spec(None, args, kwargs)

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        return await self.rq._enqueue_one(self._spec(None, args, kwargs))

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        return self.rq._enqueue_one_sync(self._spec(None, args, kwargs))

    def _spec(self, call: CallOptions | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> JobSpec:
        return resolve_spec(
            self.name, self.options, self.rq.settings.default_queue, args, kwargs, call, self.rq.now_ms()
        )


class BoundTask(Generic[P, R]):
    """A task with per-call options: `await task.with_options(delay_s=5).enqueue(...)`."""

    def __init__(self, task: Task[P, R], call: CallOptions) -> None:
        self.task = task
        self.call_options = call

    def call(self, *args: P.args, **kwargs: P.kwargs) -> JobSpec:
        return self.task._spec(self.call_options, args, kwargs)

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        return await self.task.rq._enqueue_one(self.call(*args, **kwargs))

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> Job:
        return self.task.rq._enqueue_one_sync(self.call(*args, **kwargs))
