"""A bounded thread pool for plain `def` tasks, able to write off a thread stuck in a job.

Python cannot kill a thread. When a sync job passes its timeout, the worker reports it failed and frees
its slot; the pool starts a replacement thread so that capacity stays the same, and the stuck thread
exits on its own once its job returns. `concurrent.futures.ThreadPoolExecutor` cannot grow like that.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("redisq.worker")


@dataclass(eq=False)
class ThreadJob:
    """A job handed to the pool; await `future` for its outcome."""

    fn: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    thread: threading.Thread | None = None
    abandoned: bool = field(default=False)


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class JobThreadPool:
    def __init__(self, size: int, name: str = "redisq-job") -> None:
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[ThreadJob | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._live = 0  # threads that take new items
        self._retired: set[threading.Thread] = set()
        self._closed = False
        # Outcomes travel back in batches: one wake-up of the event loop (a pipe write) for all the jobs
        # that finished since the last one, instead of one per job.
        self._outcomes: list[tuple[ThreadJob, bool, Any]] = []
        self._wake_pending = False

    @property
    def stuck(self) -> int:
        """Threads still inside a job that was written off."""
        with self._lock:
            return len(self._retired)

    def submit(self, fn: Callable[..., Any], *args: Any) -> ThreadJob:
        """Run fn(*args) in a thread, in a copy of the caller's context."""
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        item = ThreadJob(lambda: ctx.run(fn, *args), loop, loop.create_future())
        if self._live < self._size:
            with self._lock:
                if self._live < self._size:
                    self._start_thread()
        self._queue.put(item)
        return item

    def abandon(self, item: ThreadJob) -> None:
        """Write off a job: its thread is replaced, and leaves when the job returns."""
        if item.abandoned:
            return
        item.abandoned = True
        with self._lock:
            if item.thread is not None and item.thread not in self._retired:
                self._retired.add(item.thread)
                self._live -= 1
                if not self._closed:
                    self._start_thread()

    def _start_thread(self) -> None:  # holds self._lock
        self._live += 1
        threading.Thread(target=self._work, name=f"{self._name}-{self._live}", daemon=True).start()

    def _deliver(self) -> None:  # on the event loop
        with self._lock:
            outcomes, self._outcomes = self._outcomes, []
            self._wake_pending = False
        for item, ok, value in outcomes:
            if not item.abandoned:
                _resolve(item.future, ok, value)

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            item = self._queue.get()
            if item is None:
                return
            if item.abandoned:  # written off before it started: never run it
                continue
            item.thread = me
            try:
                ok, value = True, item.fn()
            except BaseException as exc:  # handed to the awaiting coroutine, which reports it
                ok, value = False, exc
            if not item.abandoned:
                with self._lock:
                    self._outcomes.append((item, ok, value))
                    wake, self._wake_pending = not self._wake_pending, True
                if wake:
                    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                        item.loop.call_soon_threadsafe(self._deliver)
            if self._retired and me in self._retired:
                with self._lock:
                    self._retired.discard(me)
                log.warning("a written-off sync job finished at last; its thread exits")
                return

    def shutdown(self) -> None:
        """Stop idle threads. Threads inside jobs are daemons: they do not hold the process open."""
        with self._lock:
            self._closed = True
            live = self._live
        for _ in range(live):
            self._queue.put(None)
