"""BullMQ on Node (npm `bullmq`, the reference Redis queue): a JavaScript producer and worker
(bullmq_node/*.cjs) driven from here as subprocesses, each in its own process group.

The node scripts need `node` on PATH and `npm install` of bullmq_node/package.json: `nox -s bench` installs
it into `.nox/bench/node` and sets BENCH_NODE_MODULES to its node_modules; without nox, run `npm install`
in benchmarks/peers/bullmq_node/. Missing either, the system gets a failure row (see `check`).

The worker's no-op records exactly what record.py records (bullmq_node/record.cjs, key names passed in
BENCH_OBS_KEYS), so the same measuring code serves it. The enqueue figures are timed inside node around
the BullMQ calls (`self_timed`); the latency figure's enqueue time is node's clock just before
`queue.add`, as for every system it is taken just before the enqueue call.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..harness import kill_group
from .base import QUEUE, Adapter, Bulk, Producer, WorkerRun
from .body import IO_KEYS
from .record import FLUSH_S, KEYS

SCRIPTS = Path(__file__).resolve().parent / "bullmq_node"


def node_modules() -> Path:
    return Path(os.environ.get("BENCH_NODE_MODULES") or SCRIPTS / "node_modules")


def node_env(url: str) -> dict[str, str]:
    keys = {k: v for k, v in vars(KEYS).items() if not k.startswith("_")}
    io_keys = {k: v for k, v in vars(IO_KEYS).items() if not k.startswith("_")}
    return {
        "NODE_PATH": str(node_modules()),  # the scripts are CommonJS: require() honours NODE_PATH
        "BENCH_REDIS_URL": url,
        "BENCH_QUEUE": QUEUE,
        "BENCH_OBS_KEYS": json.dumps({**keys, "flush_s": FLUSH_S}),
        "BENCH_IO_KEYS": json.dumps(io_keys),
    }


class _Node:
    """One long-running `node producer.cjs`: a command a line on its stdin, a JSON reply a line."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            ["node", str(SCRIPTS / "producer.cjs")],
            env={**os.environ, **node_env(url)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # its own process group, stopped by it (close)
            text=True,
        )
        self.call()  # waits for {"ready": true}

    def call(self, *words: object) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        if words:
            self.process.stdin.write(" ".join(map(str, words)) + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"node producer exited with {self.process.wait(10)}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"node producer: {reply['error']}"[:400])
        return reply

    def enqueue(self, index: int, enqueued_at: float = 0.0) -> None:
        self.call("add", index, 1 if enqueued_at > 0 else 0)  # node stamps its own clock before the add

    def prepare(self, indices: Sequence[int]) -> Any:
        start, stop = indices[0], indices[-1] + 1
        assert list(indices) == list(range(start, stop)), "the node producer fills a range of indices"
        return start, stop

    def send(self, prepared: Any) -> None:
        self.call("fill", *prepared)

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.call("close")
                self.process.wait(10)
        except (OSError, RuntimeError, subprocess.TimeoutExpired, ValueError):
            pass
        finally:
            kill_group(self.process.pid, signal.SIGKILL)  # whatever is left of its group
            if self.process.poll() is None:
                self.process.wait(10)


class BullmqNodeAdapter(Adapter):
    system = "bullmq-node"
    distribution = ""  # an npm package: see version()
    async_api = "await queue.add(...) (node)"
    bulk_api = "await queue.addBulk([...]) (node), one call"
    self_timed = True

    def check(self) -> None:
        if shutil.which("node") is None:
            raise RuntimeError("`node` is not on PATH: BullMQ on Node cannot run")
        if not (node_modules() / "bullmq" / "package.json").exists():
            raise RuntimeError(f"bullmq is not installed in {node_modules()}: run `npm install` there")

    def version(self) -> str | None:
        try:
            bullmq = json.loads((node_modules() / "bullmq" / "package.json").read_text())["version"]
            node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10)
        except (OSError, ValueError, KeyError, subprocess.SubprocessError):
            return "not installed"
        return f"{bullmq} (node {node.stdout.strip().lstrip('v')})"

    def timed_single(self, jobs: int, cap_s: float) -> tuple[int, float]:
        node = _Node(self.url)
        try:
            reply = node.call("single", jobs, cap_s)
        finally:
            node.close()
        return int(reply["done"]), float(reply["elapsed"])

    def timed_bulk(self, jobs: int) -> tuple[float, float]:
        node = _Node(self.url)
        try:
            reply = node.call("bulk", jobs)
        finally:
            node.close()
        return float(reply["prepare"]), float(reply["send"])

    def sync_producer(self) -> Producer:  # the latency figure's enqueues, and nothing timed
        return _Node(self.url)

    def sync_bulk(self) -> Bulk:  # filling the queue before a drain
        return _Node(self.url)

    def worker_env(self) -> dict[str, str]:
        return {**super().worker_env(), **node_env(self.url)}

    def _command(self, *options: str) -> list[str]:
        return ["node", str(SCRIPTS / "worker.cjs"), *options]

    def workers(self, processes: int) -> WorkerRun:
        label = f"{processes} `node worker.cjs` process(es) (BullMQ's default concurrency 1)"
        return WorkerRun(label, [self._command() for _ in range(processes)])

    def tuned(self) -> list[WorkerRun]:
        command = self._command("--concurrency", "10")
        return [
            WorkerRun("1 `node worker.cjs` process (concurrency 10)", [command], variant="concurrency 10")
        ]


ADAPTER = BullmqNodeAdapter
