"""The markdown table (a summary side by side, the ratios, every row) and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import Figure

LOWER_IS_BETTER = {"p50", "p99", "dupes", "mem"}
SUMMARY = (
    ("single", "single enqueue, jobs/s"),
    ("bulk", "bulk enqueue, jobs/s"),
    ("io1", "drain, I/O body, 1 process, jobs/s"),
    ("io2", "drain, I/O body, 2 processes, jobs/s"),
    ("io1_large", "drain, I/O body, 1 process, {large} jobs, jobs/s"),
    ("drain1", "drain, no-op, 1 process, jobs/s"),
    ("drain2", "drain, no-op, 2 processes, jobs/s"),
    ("drain1_large", "drain, no-op, 1 process, {large} jobs, jobs/s"),
    ("p50", "latency p50, ms"),
    ("p99", "latency p99, ms"),
    ("mem", "Redis memory per queued job, B"),
    ("dupes", "jobs run more than once"),
)
RATIO_KINDS = (
    "single",
    "bulk",
    "io1",
    "io2",
    "io1_large",
    "drain1",
    "drain2",
    "drain1_large",
    "p50",
    "p99",
    "mem",
)
NODE = "bullmq-node"


@dataclass
class Header:
    when: str
    machine: str
    jobs: int
    drain_jobs: int
    runs: int
    command: str
    commit: str
    seconds: float
    versions: dict[str, dict[str, Any]]


def fmt(fig: Figure) -> str:
    if fig.value is None:
        return "-"
    if fig.unit == "ms":
        return f"{fig.value:,.2f}"
    return f"{fig.value:,.0f}"


def _default(f: Figure) -> bool:
    """The system's default setup (the API variants of enqueue count as defaults)."""
    return f.variant in ("", "sync", "async")


def _cell(figs: Sequence[Figure]) -> str:
    parts = []
    for f in figs:
        if f.value is not None:
            text = fmt(f)
        elif "bulk API" in f.note:
            text = "no bulk API"
        else:
            text = "not run (cap)" if f.note.startswith("not run:") else "failed"
        if "capped" in f.note:
            text += " (capped)"
        if len(figs) > 1 and f.variant:
            text += f" ({f.variant})"
        parts.append(text)
    return " / ".join(parts) if parts else "-"


def summary(
    figures: Sequence[Figure], systems: Sequence[str], versions: dict[str, dict[str, Any]], large: int
) -> list[str]:
    titles = [title.format(large=f"{large:,}") for _, title in SUMMARY]
    lines = ["| system | " + " | ".join(titles) + " |", "|---|" + "---:|" * len(SUMMARY)]
    for system in systems:
        mine = [f for f in figures if f.system == system]
        cells = []
        for kind, _ in SUMMARY:
            cells.append(_cell([f for f in mine if f.kind == kind and _default(f)]))
        errors = [f for f in mine if f.kind == "error"]
        name = f"{system} {versions.get(system, {}).get('version', '')}".strip()
        if errors and not any(f.value is not None for f in mine):
            cells = ["failed: see below"] + [""] * (len(SUMMARY) - 1)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _best(rows: Sequence[Figure], kind: str) -> Figure | None:
    usable = [f for f in rows if f.kind == kind and f.value is not None]
    if not usable:
        return None
    pick = min if kind in LOWER_IS_BETTER else max
    return pick(usable, key=lambda f: f.value or 0.0)


def _ratio(f: Figure, best: Figure) -> str:
    assert f.value is not None
    assert best.value
    return f"{fmt(f)} / {fmt(best)} {f.unit} ({best.system}: {best.figure}) = **{f.value / best.value:.2f}**"


def ratios(figures: Sequence[Figure]) -> list[str]:
    ours = [f for f in figures if f.system == "redisq" and f.value is not None]
    peers = [
        f for f in figures if f.system not in ("redisq", "raw redis-py", "redis-benchmark", "body alone")
    ]
    lines = [
        "Ratios, redisq / best peer, any setting measured (for latency, below 1 means redisq is faster):",
        "",
    ]
    for kind in RATIO_KINDS:
        best = _best(peers, kind)
        for f in (f for f in ours if f.kind == kind):
            if best is None or not best.value or f.value is None:
                lines.append(f"- {f.figure}: no peer figure to compare")
                continue
            line = f"- {f.figure}: {_ratio(f, best)}"
            if kind in ("single", "bulk") and f.variant != best.variant.split(",")[0]:
                same = _best([p for p in peers if p.variant.split(",")[0] == f.variant], kind)
                line += f"; best {f.variant} peer: " + (_ratio(f, same) if same else "none")
            lines.append(line)
    raw = {f.figure.split(", best of")[0]: f for f in figures if f.system == "raw redis-py" and f.value}
    pairs = (
        ("single enqueue (async, awaited)", "sequential LPUSH (asyncio)"),
        ("single enqueue (sync)", "sequential LPUSH (sync)"),
        ("bulk enqueue (async)", "pipelined LPUSH (asyncio)"),
        ("bulk enqueue (sync)", "pipelined LPUSH (sync)"),
    )
    lines += [
        "",
        "Ratios, redisq / raw limit of the same server (redis-py, same sync or asyncio client):",
        "",
    ]
    for mine, limit in pairs:
        q = next((f for f in ours if f.figure == mine), None)
        r = raw.get(limit)
        if q is None or r is None or not r.value or q.value is None:
            lines.append(f"- {mine}: not measured")
            continue
        lines.append(f"- {q.figure} / raw {limit}: {fmt(q)} / {fmt(r)} = **{q.value / r.value:.2f}**")
    return [*lines, "", *versus_node(ours, figures), "", *efficiency(figures), "", *scaling(figures)]


def versus_node(ours: Sequence[Figure], figures: Sequence[Figure]) -> list[str]:
    """redisq's default rows / BullMQ on Node's best row of the same figure (any setting measured)."""
    node = [f for f in figures if f.system == NODE]
    lines = [
        "Ratios, redisq / BullMQ on Node, per figure (its best setting; below 1 is better for latency and"
        " memory):",
        "",
    ]
    for kind in RATIO_KINDS:
        best = _best(node, kind)
        for f in (f for f in ours if f.kind == kind and _default(f)):
            if best is None or not best.value or f.value is None:
                lines.append(f"- {f.figure}: no BullMQ (Node) figure")
                continue
            lines.append(f"- {f.figure}: {_ratio(f, best)}")
    return lines


def efficiency(figures: Sequence[Figure]) -> list[str]:
    """Queue efficiency: each I/O drain of one process / the body-alone ceiling (target for redisq: 0.8)."""
    ceiling = next((f for f in figures if f.kind == "ceiling" and f.value), None)
    lines = ["Queue efficiency, I/O drain of 1 process / the body alone (10 asyncio tasks, no queue):", ""]
    if ceiling is None or not ceiling.value:
        return [*lines, "- the ceiling was not measured"]
    lines.append(
        f"- the ceiling: {fmt(ceiling)} jobs/s ({ceiling.figure}; runs: {ceiling.extra.get('runs', '-')})"
    )
    for f in figures:
        if f.kind in ("io1", "io1_large") and f.value is not None and _default(f):
            share = f.value / ceiling.value
            mark = f"**{share:.2f}**" if f.system == "redisq" else f"{share:.2f}"
            lines.append(f"- {f.system}: {f.figure}: {fmt(f)} / {fmt(ceiling)} = {mark}")
    return lines


def scaling(figures: Sequence[Figure]) -> list[str]:
    """2 processes / 1 process, defaults, per system and body."""
    lines = ["2 processes / 1 process (defaults):", ""]
    for one, two in (("io1", "io2"), ("drain1", "drain2")):
        for f in figures:
            if f.kind != one or f.value is None or not _default(f):
                continue
            g = next((g for g in figures if g.system == f.system and g.kind == two and _default(g)), None)
            if g is not None and g.value is not None and f.value:
                lines.append(f"- {f.system}, {g.figure}: {fmt(g)} / {fmt(f)} = {g.value / f.value:.2f}")
    return lines


def full_table(figures: Sequence[Figure]) -> list[str]:
    lines = ["| system | figure | value | unit | how it ran | note |", "|---|---|---:|---|---|---|"]
    for f in figures:
        extra = [f"{k}={v}" for k, v in f.extra.items() if k != "seconds"]
        note = "; ".join(filter(None, [f.note, *extra])).replace("|", "\\|")
        lines.append(f"| {f.system} | {f.figure} | {fmt(f)} | {f.unit} | {f.setup} | {note} |")
    return lines


def write(out: Path, header: Header, systems: Sequence[str], figures: Sequence[Figure]) -> str:
    versions = header.versions
    runs = f"the median of {header.runs} runs" if header.runs > 1 else "one run"
    lines = [
        f"Run {header.when} on {header.machine}; redisq at {header.commit}; {header.jobs:,} jobs per figure"
        f" ({header.drain_jobs:,} for the large drain); {runs} (every run's value in the note);"
        f" `{header.command}`; took {header.seconds / 60:.1f} min.",
        "",
        "Versions: "
        + "; ".join(
            f"{s} {v.get('version', '?')} (Python {v.get('python', '?')}, redis-py {v.get('redis_py', '?')})"
            for s, v in versions.items()
        )
        + ".",
        "",
        *summary(figures, systems, versions, header.drain_jobs),
        "",
        *ratios(figures),
        "",
        "Every row:",
        "",
        *full_table(figures),
    ]
    table = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(table)
    doc = {
        "when": header.when,
        "machine": header.machine,
        "jobs": header.jobs,
        "drain_jobs": header.drain_jobs,
        "runs": header.runs,
        "command": header.command,
        "commit": header.commit,
        "seconds": round(header.seconds, 1),
        "versions": versions,
        "figures": [f.row() for f in figures],
    }
    (out / "latest.json").write_text(json.dumps(doc, indent=2) + "\n")
    return table
