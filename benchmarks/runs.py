"""Several runs of the same figures, made one: each figure's median over the runs that measured it, with
every run's value in its note (extra["runs"]); duplicate runs are summed, never averaged away; a failure of
any run is kept as a row of its own.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Sequence

from .harness import Figure


def combine(runs: Sequence[Sequence[Figure]]) -> list[Figure]:
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
    return [_one(by_key[key], len(runs)) for key in order] + errors


def _one(figures: Sequence[Figure], runs: int) -> Figure:
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
    if len(figures) < runs:  # capped (or not run) in an earlier run: not measured again
        out.extra["measured_in"] = f"{len(figures)} of {runs} runs (capped: not repeated)"
    return out


def capped_steps(figures: Sequence[Figure]) -> set[str]:
    """The steps not worth measuring again: capped, or foreseen not to finish within the cap."""
    return {f.step for f in figures if f.step and ("capped" in f.note or f.note.startswith("not run:"))}
