"""The requests of sans-I/O operations: what an operation yields, and how it is stepped.

An operation is a generator: it yields a request (a script call, a command, or a list of them meaning one
pipelined round trip), receives the reply, and finally returns its value. Each operation is written once
(in `ops.py` and its neighbours); the backends (`backend.py`) only do the I/O.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

T = TypeVar("T")


# Not frozen: a frozen dataclass sets each field through object.__setattr__, slower on the hot path.
@dataclass(slots=True)
class ScriptCall:
    name: str  # a field of `Scripts`
    keys: Sequence[str]
    args: Sequence[Any]
    # False: the script touches one job record and nothing else (it is whole wherever it is). True: it
    # reads or writes the queue's shared keys, and on a Cluster it must not run on a half-moved slot
    # (see `cluster_io.cluster_keys`).
    whole_queue: bool = True


@dataclass(slots=True)
class Command:
    args: tuple[Any, ...]
    # True: an error reply (e.g. WRONGTYPE for a damaged record, NOPERM for INFO on a managed Redis) is
    # answered as the exception object instead of failing the round trip, for the operation to judge.
    tolerant: bool = False
    # True: sent to every master (each of a Cluster's, else the one server) and answered as {node name:
    # reply}: the server's settings and health are judged node by node. With `tolerant`, a node that
    # cannot be reached answers its exception too, so that health can name it.
    every_node: bool = False


Single: TypeAlias = ScriptCall | Command
# A list is one round trip and is answered with a list of replies; a list of one needs no pipeline.
Request: TypeAlias = Single | list[Single]
Op: TypeAlias = Generator[Request, Any, T]


def drive(op: Op[T], first: bool, reply: Any) -> tuple[bool, Request | T]:
    """Advance an operation by one step: (False, its next request) or (True, its value)."""
    try:
        return False, (next(op) if first else op.send(reply))
    except StopIteration as stop:
        return True, stop.value


def gather(operations: Sequence[Op[Any]]) -> Op[list[Any]]:
    """Run operations side by side: each round trip sends the pending requests of all of them at once.

    Returns their values in order. An operation that raises stops the whole (as it would alone).
    """
    results: list[Any] = [None] * len(operations)
    pending: dict[int, Request] = {}
    for i, op in enumerate(operations):
        done, value = drive(op, True, None)
        if done:
            results[i] = value
        else:
            pending[i] = value
    while pending:
        batch: list[Single] = []
        spans: list[tuple[int, int, int, bool]] = []  # (operation, first reply, how many, asked a list)
        for i, request in pending.items():
            items = request if isinstance(request, list) else [request]
            spans.append((i, len(batch), len(items), isinstance(request, list)))
            batch.extend(items)
        replies = yield batch
        pending = {}
        for i, start, count, as_list in spans:
            reply = replies[start : start + count] if as_list else replies[start]
            done, value = drive(operations[i], False, reply)
            if done:
                results[i] = value
            else:
                pending[i] = value
    return results
