"""The README's code blocks, each with the marker that says how a test runs it (`<!-- test: KIND ARG -->`
on the line before the block; the two commands at the top have their own `demo`/`tests` markers)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
_MARKER = re.compile(r"<!-- (?:test: (\w+)(?: (\S+))?|(demo|tests):begin) -->")


@dataclass(frozen=True)
class Block:
    kind: str  # file, shell, python, acl, browser, demo, tests, pytest (a test file to run), django; ""
    # if unmarked
    arg: str  # the file's path, for `file`
    lang: str
    code: str
    line: int  # of the opening fence, 1-based

    @property
    def lines(self) -> list[str]:
        return [line for line in self.code.splitlines() if line.strip()]


def blocks() -> list[Block]:
    found: list[Block] = []
    lines = README.read_text().splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        lang, start = lines[i][3:].strip(), i
        marker = _MARKER.search(lines[i - 1]) if i else None
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        kind = (marker.group(1) or marker.group(3)) if marker else ""
        arg = (marker.group(2) or "") if marker else ""
        found.append(Block(kind, arg, lang, "\n".join(lines[start + 1 : end]) + "\n", start + 1))
        i = end + 1
    return found


PATH_KINDS = ("file", "pytest", "django")  # their argument is a path, not a section


def of_kind(kind: str, section: str = "") -> list[Block]:
    """The blocks of a kind; with `section`, those marked for it (`<!-- test: python limits -->`), else
    those marked with no section. Blocks of PATH_KINDS are all returned (their argument is their path)."""
    return [b for b in blocks() if b.kind == kind and (kind in PATH_KINDS or b.arg == section)]


def file_block(path: str) -> Block:
    [block] = [b for b in blocks() if b.kind == "file" and b.arg == path]
    return block
