"""Several runs of the same figures, made one: each figure's median over the runs that measured it, with
every run's value in its note (extra["runs"]); duplicate runs are summed, never averaged away; a failure of
any run is kept as a row of its own.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Mapping, Sequence

from .harness import Figure

CAPPED = "capped: not repeated"
BUDGET = "left out of the later runs to keep within --budget"


def combine(runs: Sequence[Sequence[Figure]], left_out: Mapping[str, Mapping[str, str]]) -> list[Figure]:
    """`left_out[system][step]`: why a step was not measured in every run."""
    if len(runs) == 1:
        return list(runs[0])
    order: list[tuple[str, str]] = []
    by_key: dict[tuple[str, str], list[Figure]] = {}
    errors: list[Figure] = []
    for number, figures in enumerate(runs, 1):
        for f in figures:
            if f.kind == "error":
                e = copy.deepcopy(f)
                e.figure += f" (run {number})"
                errors.append(e)
                continue
            key = (f.system, f.figure)
            if key not in by_key:
                order.append(key)
                by_key[key] = []
            by_key[key].append(f)
    return [_one(by_key[key], len(runs), left_out.get(key[0], {})) for key in order] + errors


def _one(figures: Sequence[Figure], runs: int, left_out: Mapping[str, str]) -> Figure:
    values = [f.value for f in figures if f.value is not None]
    if not values:
        return figures[0]
    if figures[0].kind == "dupes":
        out = copy.deepcopy(figures[0])
        out.value = sum(values)
        out.note = f"summed over {len(values)} runs: {[round(v) for v in values]}; " + out.note
        return out
    middle = statistics.median(values)
    closest = min((f for f in figures if f.value is not None), key=lambda f: abs((f.value or 0) - middle))
    out = copy.deepcopy(closest)
    out.value = middle
    digits = 2 if out.unit == "ms" else 0
    out.extra = {"runs": [round(v, digits) if digits else round(v) for v in values], **out.extra}
    if len(figures) < runs:
        why = left_out.get(out.step, "its system's later runs were not made: see the failure rows")
        out.extra["measured_in"] = f"{len(figures)} of {runs} runs ({why})"
    return out


def capped_steps(figures: Sequence[Figure]) -> set[str]:
    """The steps not worth measuring again: capped, or foreseen not to finish within the cap."""
    return {f.step for f in figures if f.step and ("capped" in f.note or f.note.startswith("not run:"))}


def step_seconds(figures: Sequence[Figure]) -> dict[str, float]:
    """What each step of one system's run took (every figure of a step carries it)."""
    return {f.step: float(f.extra.get("seconds", 0.0)) for f in figures if f.step}


def fit_later_runs(
    seconds: Mapping[str, Mapping[str, float]],
    skip: Mapping[str, set[str]],
    left_out: dict[str, dict[str, str]],
    runs_left: int,
    time_left: float,
) -> None:
    """If the remaining runs, each as long as the last one less the steps skipped, would not fit in
    `time_left`, leave the large drains (the longest steps that finish) out of them: run 1 keeps them.
    What still does not fit is cut by the budget itself (a system's run not started)."""
    per_system = 15.0  # the child's start, the raw limit and the ceiling's share: a rough allowance

    def needed() -> float:
        return runs_left * sum(
            per_system + sum(t for step, t in steps.items() if step not in skip[system])
            for system, steps in seconds.items()
        )

    if runs_left <= 0 or needed() <= time_left:
        return
    for system, steps in seconds.items():
        for step in steps:
            if step.endswith(" jobs") and step not in skip[system]:  # "drain, 1 process, 100,000 jobs"
                skip[system].add(step)
                left_out.setdefault(system, {})[step] = BUDGET
