"""The dashboard's streams: Redis commands per second, and how fast a change reaches every browser.

    python -m benchmarks.sse                          # 0, 1 and 500 SSE clients, 20 s windows
    python -m benchmarks.sse --clients 200 --seconds 10

One uvicorn process serves a FastAPI app with the admin router (`allow_anonymous="read"`, default poll
interval 1 s); a throwaway redis-server backs it (REDISQ_URL is ignored: the counts must be this run's
alone). In this process a producer enqueues a steady trickle (10 jobs/s over three queues) and a worker
drains it, so the numbers move. The SSE clients live in a process of their own (raw asyncio sockets, one
connection each) so that their work does not share the server's CPU accounting.

For each row: the total commands per second from `INFO commandstats` over the window (the trickle and
the worker included: the 0-client row is that baseline alone), the server process' CPU, and the delay
from a change to its arrival at each client: every 2 s a job is enqueued on a queue that no worker
serves, and each client notes when a snapshot first shows the new `enqueued` count. Delays are reported
over all clients and probes (p50, p99 and max); a change is caught by the next poll, so up to one
interval plus the fan-out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis
from fastapi import FastAPI

from redisq import RedisQ, Worker, WorkerSettings
from redisq.core.embedded import free_port, start_embedded
from redisq.fastapi import admin_router

ROOT = Path(__file__).resolve().parent.parent
QUEUES = ("bench-sse-a", "bench-sse-b", "bench-sse-c")
PROBE = "bench-sse-probe"  # no worker: its `enqueued` counter only grows when a probe is sent
TRICKLE_PER_S = 10
PROBE_EVERY_S = 2.0


# ---- the server (a uvicorn factory) --------------------------------------------------------------------


def server_app() -> FastAPI:
    rq = RedisQ()  # REDISQ_URL and REDISQ_PREFIX from the benchmark

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await rq.aclose()

    app = FastAPI(lifespan=lifespan)
    interval = float(os.environ.get("BENCH_SSE_INTERVAL", "1.0"))
    app.include_router(
        admin_router(rq, allow_anonymous="read", dashboard_interval_s=interval), prefix="/queues"
    )
    return app


# ---- the clients (a process of their own) --------------------------------------------------------------


async def _client(host: str, port: int, seen: dict[int, float], ready: asyncio.Queue[None]) -> None:
    """One browser: reads `M/_events` (chunked) and notes when each probe count first shows."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /queues/_events HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"the stream answered {status!r}")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    buffer, first = b"", True
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            return
        buffer += (await reader.readexactly(size + 2))[:-2]
        *events, buffer = buffer.split(b"\n\n")
        for event in events:
            for line in event.split(b"\n"):
                if not line.startswith(b"data: "):
                    continue
                snapshot = orjson.loads(line[6:])
                for queue in snapshot["queues"]:
                    if queue["queue"] == PROBE:
                        seen.setdefault(queue["counters"]["enqueued"], time.time())
                if first:
                    first = False
                    ready.put_nowait(None)


async def _clients(url: str, count: int) -> tuple[list[dict[int, float]], int]:
    parsed = httpx.URL(url)
    ready: asyncio.Queue[None] = asyncio.Queue()
    seen: list[dict[int, float]] = [{} for _ in range(count)]
    tasks = [asyncio.create_task(_client(parsed.host, parsed.port or 80, s, ready)) for s in seen]
    for _ in range(count):
        await ready.get()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "stop"
    failed = sum(1 for t in tasks if t.done() and t.exception() is not None)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return seen, failed


class Clients:
    """`count` SSE clients in a child process; ready once every one of them has had a snapshot."""

    def __init__(self, url: str, count: int, out: Path) -> None:
        command = [sys.executable, "-m", "benchmarks.sse", "--as-clients", url, str(count), str(out)]
        self.out = out
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"the clients did not connect (exit {self.process.wait()})")

    def stop(self) -> tuple[list[dict[int, float]], int]:
        assert self.process.stdin is not None
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        self.process.wait(60)
        data = json.loads(self.out.read_text())
        return [{int(k): t for k, t in s.items()} for s in data["seen"]], int(data["failed"])


# ---- the driver ----------------------------------------------------------------------------------------


@dataclass
class Row:
    clients: int
    commands_per_s: float
    polls_per_s: float
    server_cpu: float  # share of one core
    p50_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    missed: int = 0


def command_counts(client: redis.Redis) -> tuple[int, int]:
    """All commands run so far, and the SMEMBERS among them: one per dashboard poll, nothing else here."""
    stats: dict[str, Any] = client.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values()), int(
        stats.get("cmdstat_smembers", {}).get("calls", 0)
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


Probes = list[tuple[int, float]]  # (the probe queue's `enqueued` count it makes, when it was sent)


async def window(rq: RedisQ, probe: Any, seconds: float, pid: int) -> tuple[float, float, float, Probes]:
    """Commands per second and server CPU over `seconds`, with a probe in every PROBE_EVERY_S.

    Each probe goes at a random moment of its slot: at fixed times it would keep one phase to the poller.
    """
    info = redis.Redis.from_url(rq.settings.url or "")
    try:
        enqueued = (await rq.stats(PROBE)).counters["enqueued"]
        probes: Probes = []
        (commands, polls), cpu, started = command_counts(info), cpu_seconds(pid), time.monotonic()
        while time.monotonic() - started < seconds - PROBE_EVERY_S / 2:
            wait = random.uniform(0.1, PROBE_EVERY_S - 0.1)
            await asyncio.sleep(wait)
            sent = time.time()
            await probe.enqueue()
            enqueued += 1
            probes.append((enqueued, sent))
            await asyncio.sleep(PROBE_EVERY_S - wait)
        elapsed = time.monotonic() - started
        commands_now, polls_now = command_counts(info)
        rate, poll_rate = (commands_now - commands) / elapsed, (polls_now - polls) / elapsed
        return rate, poll_rate, (cpu_seconds(pid) - cpu) / elapsed, probes
    finally:
        info.close()


async def trickle(rq: RedisQ, task: Any) -> None:
    while True:
        await task.with_options(queue=random.choice(QUEUES)).enqueue()
        await asyncio.sleep(1 / TRICKLE_PER_S)


async def measure(url: str, prefix: str, server_url: str, pid: int, args: argparse.Namespace) -> list[Row]:
    rq = RedisQ(url, prefix=prefix)

    @rq.task(name="bench.sse.noop", queue=QUEUES[0])
    async def noop() -> None:
        await asyncio.sleep(0.05)

    probe = noop.with_options(queue=PROBE)
    await probe.enqueue()  # the probe queue exists from here on
    worker = Worker(rq, QUEUES, settings=WorkerSettings(concurrency=8, heartbeat_every_s=2.0))
    running = [asyncio.create_task(worker.run()), asyncio.create_task(trickle(rq, noop))]
    rows: list[Row] = []
    try:
        await asyncio.sleep(3)
        for count in (0, 1, args.clients):
            clients = None
            if count:
                clients = Clients(server_url, count, Path(args.tmp) / f"clients-{count}.json")
                await asyncio.get_running_loop().run_in_executor(None, clients.wait_ready)
                await asyncio.sleep(2)
            rate, poll_rate, cpu, probes = await window(rq, probe, args.seconds, pid)
            row = Row(count, rate, poll_rate, cpu)
            if clients is not None:
                await asyncio.sleep(2 * args.interval + 0.5)  # the last probe's way to every client
                seen, failed = await asyncio.get_running_loop().run_in_executor(None, clients.stop)
                delays = [s[n] - at for s in seen for n, at in probes if n in s]
                row.missed = len(seen) * len(probes) - len(delays) + failed
                row.p50_ms, row.p99_ms = percentile(delays, 0.5) * 1000, percentile(delays, 0.99) * 1000
                row.max_ms = max(delays) * 1000
            rows.append(row)
            print(f"  {count} clients: {rate:,.0f} commands/s", file=sys.stderr, flush=True)
    finally:
        running[1].cancel()
        worker.stop()
        await asyncio.gather(*running, return_exceptions=True)
        await rq.aclose()
    return rows


def table(rows: list[Row], interval: float) -> str:
    base = rows[0].commands_per_s
    lines = [
        "| SSE clients | Redis commands/s | of which the dashboard | dashboard polls/s | server CPU "
        "| change → client p50 | p99 | max | missed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f} ms"

    for r in rows:
        own = "-" if r.clients == 0 else f"{r.commands_per_s - base:,.1f}"
        lines.append(
            f"| {r.clients} | {r.commands_per_s:,.1f} | {own} | {r.polls_per_s:.2f} | {r.server_cpu:.1%} "
            f"| {ms(r.p50_ms)} "
            f"| {ms(r.p99_ms)} | {ms(r.max_ms)} | {r.missed if r.clients else '-'} |"
        )
    lines.append("")
    lines.append(
        f"Poll interval {interval:g} s; a trickle of {TRICKLE_PER_S} jobs/s over {len(QUEUES)} queues with "
        "one worker in every row (the 0-client row is that baseline alone). Commands run inside Lua "
        "scripts count too (INFO commandstats counts them)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sse", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=500, help="SSE clients of the big row (500)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each window (20)")
    parser.add_argument("--interval", type=float, default=1.0, help="the dashboard's poll interval (1)")
    parser.add_argument("--as-clients", nargs=3, metavar=("URL", "COUNT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.as_clients:
        url, count, out = args.as_clients
        seen, failed = asyncio.run(_clients(url, int(count)))
        Path(out).write_text(json.dumps({"seen": seen, "failed": failed}))
        return

    redis_server = start_embedded(port=free_port())
    prefix, port = "bench-sse", free_port()
    env = {
        **os.environ,
        "REDISQ_URL": redis_server.url,
        "REDISQ_PREFIX": prefix,
        "BENCH_SSE_INTERVAL": str(args.interval),
    }
    command = [
        sys.executable, "-m", "uvicorn", "benchmarks.sse:server_app", "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    server_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server_url}/queues/_me", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        with tempfile.TemporaryDirectory(prefix="bench-sse-") as tmp:
            args.tmp = tmp
            rows = asyncio.run(measure(redis_server.url, prefix, server_url, server.pid, args))
        print(table(rows, args.interval))
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        redis_server.stop()


if __name__ == "__main__":
    main()
