"""The dashboard's English lives in one table, redisq/dashboard/static/strings.js (issue 17): a translation
is a copy of that file. Read as text, no browser: no other script writes English of its own, every key a
script asks for is in the table (a typo would show "undefined"), and the table has no dead or doubled entry.

A script's string literals are found by a small tokenizer (comments, regular expressions and template
literals handled), each with where it stands: a literal whose text a user can see (a child of `h()`, an
aria-label, a title, a toast...) may hold no letters; any other must look like code (a name, a path, a
selector, a list of CSS classes) and not like English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parent.parent / "redisq" / "dashboard" / "static"
TABLE = STATIC / "strings.js"
MODULES = sorted(path for path in STATIC.glob("*.js") if path != TABLE)
STYLES = "\n".join(css.read_text() for css in STATIC.glob("*.css"))
CSS_CLASSES = set(re.findall(r"\.([A-Za-z_][\w-]*)", STYLES))

# Literals that are code although they look like words: key names, a header, an error type, selectors.
NOT_TEXT = {"ArrowDown", "ArrowUp", "Enter", "Content-Type", "DependencyFailed"}
NOT_TEXT |= {".mainnav [data-nav]", "a, button, input"}
# Shown as they are in any language: the JSON keys the editor's hint names, and the default time zone.
SHOWN_AS_IS = {"args", "kwargs", "UTC"}

# Where a literal is shown: the values of these keys, these calls' arguments, assignments to these properties.
SHOWN_KEYS = {"aria-label", "title", "placeholder", "data-label", "alt", "label", "text", "confirm"}
SHOWN_ARGS = {
    "h": range(2, 99),  # the children
    "svg": range(2, 99),
    "replace": range(1, 99),
    "setText": {1},
    "toast": {0},
    "say": {0},
    "showError": {0},
}
SHOWN_PROPERTIES = ("textContent", "title", "placeholder")

# ---- a tokenizer, enough for these scripts -----------------------------------------------------------------

TOKEN = re.compile(
    r"""(?P<space>\s+) | (?P<comment>//[^\n]*|/\*.*?\*/)
    | (?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
    | (?P<word>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*) | (?P<number>\d[\w.]*)
    | (?P<open>[(\[{]) | (?P<close>[)\]}]) | (?P<tick>`) | (?P<slash>/)
    | (?P<op>===|!==|==|!=|=>|&&|\|\||\?\?|\?\.|\.\.\.|[-+*%<>=!&|^~?:;,.@#])""",
    re.S | re.X,
)
TEMPLATE_TEXT = re.compile(r"(?:\\.|[^`\\$]|\$(?!\{))*", re.S)
REGEX = re.compile(r"/(?:\\.|\[(?:\\.|[^\]\\])*\]|[^/\\\n])+/[a-z]*")
COMPARISONS = {"===", "!==", "==", "!="}
REGEX_AFTER = set("([{,;:=!&|?+-*%<>") | {"return", "=>"}  # a `/` after these starts a regular expression


@dataclass
class Frame:
    kind: str  # "(", "[", "{" or "${" (the code of a template literal)
    name: str = ""  # the function called, or in an object the key whose value comes
    arg: int = 0  # the argument (or item) being read
    ternaries: int = 0  # `?` still waiting for their `:` (in an object)
    shown: bool = False  # for "${": whether its template literal is shown


@dataclass
class Literal:
    text: str  # a template literal's `${...}` as {}
    shown: bool
    line: int


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text, flags=re.S)


def _shown(frames: list[Frame], before: list[str]) -> bool:
    if before and before[-1] in COMPARISONS:
        return False  # compared, not shown: state === "dead"
    if len(before) >= 2 and before[-1] == "=" and before[-2].rsplit(".", 1)[-1] in SHOWN_PROPERTIES:
        return True
    for frame in reversed(frames):
        if frame.kind == "[":
            continue  # an array of children is shown where it is passed
        if frame.kind == "${":
            return frame.shown
        if frame.kind == "{":
            return frame.name.strip("\"'") in SHOWN_KEYS
        return frame.arg in SHOWN_ARGS.get(frame.name.rsplit(".", 1)[-1], ())
    return False


def literals(code: str) -> list[Literal]:
    found: list[Literal] = []
    frames: list[Frame] = []
    templates: list[tuple[list[str], bool, int]] = []  # the open template literals: parts so far, shown, line
    before: list[str] = []  # the tokens read so far (code only)
    at = 0

    def template_text(start: int) -> tuple[str, int, bool]:
        """The text of a template literal from `start`: (text, where the code goes on, whether it ended)."""
        end = TEMPLATE_TEXT.match(code, start).end()
        return code[start:end], end + (1 if code[end] == "`" else 2), code[end] == "`"

    while at < len(code):
        line = code.count("\n", 0, at) + 1
        token = TOKEN.match(code, at)
        assert token, f"cannot read line {line}: {code[at : at + 40]!r}"
        kind, value = token.lastgroup, token.group()
        at = token.end()
        if kind in ("space", "comment"):
            continue
        if kind == "slash" and (not before or before[-1] in REGEX_AFTER):
            at = REGEX.match(code, token.start()).end()
            kind = value = "regex"
        elif kind == "string":
            found.append(Literal(_unescape(value[1:-1]), _shown(frames, before), line))
        elif kind == "tick":
            text, at, ended = template_text(at)
            shown = _shown(frames, before)
            if ended:
                found.append(Literal(_unescape(text), shown, line))
            else:
                templates.append(([text], shown, line))
                frames.append(Frame("${", shown=shown))
        elif kind == "open":
            called = value == "(" and bool(before) and re.match(r"[A-Za-z_$]", before[-1]) is not None
            frames.append(Frame(value, name=before[-1] if called else ""))
        elif kind == "close":
            if frames.pop().kind == "${":
                parts, shown, start_line = templates[-1]
                text, at, ended = template_text(at)
                parts.append(text)
                if ended:
                    templates.pop()
                    found.append(Literal(_unescape("{}".join(parts)), shown, start_line))
                else:
                    frames.append(Frame("${", shown=shown))
        elif value == "," and frames:
            frames[-1].arg += 1
            if frames[-1].kind == "{":
                frames[-1].name = ""
        elif value == "?" and frames:
            frames[-1].ternaries += 1
        elif value == ":" and frames and frames[-1].kind == "{":
            if frames[-1].ternaries:
                frames[-1].ternaries -= 1
            else:
                frames[-1].name = before[-1]  # `key: value`
        before.append(value)
    assert not frames and not templates, "unbalanced brackets"
    return found


def _class_list(words: list[str]) -> bool:
    """A list of classes ("btn btn-small", "badge state-${x}"): lowercase names, one at least a class of
    the stylesheets (the others may be hooks for the scripts and the tests)."""
    names = all(re.fullmatch(r"[a-z][a-z0-9-]*", word) for word in words)
    return names and any(word in CSS_CLASSES for word in words)


def looks_like_code(text: str) -> bool:
    bare = text.replace("{}", "")
    return (
        not re.search(r"[A-Za-z]{2,}", bare)  # symbols, numbers, SVG path commands
        or (re.fullmatch(r"[\w$-]+", bare) is not None and not re.match(r"[A-Z][a-z]", bare))  # a name
        or (" " not in bare and re.search(r"[/#.\[=:]", bare) is not None)  # a path, a URL, a selector
        or _class_list(bare.split())
        or text in NOT_TEXT
    )


def english(code: str) -> list[str]:
    """The literals of `code` that a user would read in English: what belongs in the table."""
    out = []
    for literal in literals(code):
        if literal.shown:
            wrong = re.search(r"[A-Za-z]", literal.text) is not None and literal.text not in SHOWN_AS_IS
        else:
            wrong = not looks_like_code(literal.text)
        if wrong:
            out.append(f"line {literal.line}: {literal.text!r}")
    return out


# ---- the table ---------------------------------------------------------------------------------------------


def table() -> dict[str, str]:
    """The table's entries: each key with the source of its value."""
    body = TABLE.read_text().split("export const S = {\n", 1)[1].split("\n};", 1)[0]
    entries: dict[str, str] = {}
    key = None
    for line in body.splitlines():
        top = re.match(r'  "?(\w+)"?: (.*)', line)
        if top:
            key = top.group(1)
            assert key not in entries, f"{key} twice in the table"
            entries[key] = top.group(2)
        elif key and line.startswith("    "):
            entries[key] += "\n" + line
    return entries


def uses(path: Path) -> list[tuple[str, str]]:
    return re.findall(r"\bS\.(\w+)(?:\.(\w+)\b(?!\())?", path.read_text())


# ---- the tests ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_no_script_but_the_table_writes_english(path: Path) -> None:
    assert english(path.read_text()) == [], f"{path.name}: move these texts to strings.js"


@pytest.mark.parametrize(
    ("code", "flagged"),
    [
        ('h("p", { class: "empty" }, "No jobs yet.")', True),
        ('h("span", { class: "badge" }, "late")', True),
        ('h("p", null, ["on ", x])', True),
        ('h("button", { "aria-label": `Select ${uid}` }, S.select)', True),
        ('h("input", { placeholder: "job id" })', True),
        ('toast(`${n} jobs deleted.`, "error")', True),
        ('el.textContent = "live";', True),
        ('const WORDS = ["Retry", "Retried"];', True),
        ('confirmDialog({ title: S.t, text: x ? "Gone." : y })', True),
        ('h("span", { class: `badge state-${s}`, "data-label": S.when }, " · ", S.never)', False),
        ('toast(err.message, "error"); el.hidden = state === "dead" ? true : false;', False),
        ('request("POST", `${enc(q)}/jobs/${uid}`, { Accept: "application/json" })', False),
        ('x.replace(/[^a-z"]/g, "").split("/"); const y = a / b / c;', False),
    ],
)
def test_the_check_catches_english_and_lets_code_be(code: str, flagged: bool) -> None:
    assert bool(english(code)) is flagged, english(code)


def test_every_key_the_scripts_use_is_in_the_table_and_every_entry_is_used() -> None:
    entries = table()
    used: set[str] = set()
    for path in MODULES:
        for key, sub in uses(path):
            assert key in entries, f"{path.name}: S.{key} is not in strings.js"
            used.add(key)
            if sub and entries[key].startswith("{"):
                nested = re.search(rf'[{{\s,]"?{sub}"?:', entries[key])
                assert nested, f"{path.name}: S.{key}.{sub} is not in strings.js"
    assert sorted(set(entries) - used) == [], "entries of strings.js that no script uses"


def test_the_table_holds_each_text_once_and_imports_nothing() -> None:
    source = TABLE.read_text()
    values = re.findall(r'(?:^ +|[{,] )"?\w+"?: ("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'),?$', source, re.M)
    values += re.findall(r'[{,] "?\w+"?: ("(?:[^"\\]|\\.)*")(?= ?[,}])', source)
    doubled = sorted({v for v in values if values.count(v) > 1})
    assert doubled == [], "one entry per text: use the same key where the same text is meant"
    assert not re.search(r"^import ", source, re.M), "strings.js imports nothing: any script may import it"
    for path in MODULES:
        code = path.read_text()
        imported = 'import { S } from "./strings.js";' in code
        assert imported == bool(uses(path)), path.name


def test_the_pages_own_texts_are_the_tables() -> None:
    """index.html carries the texts that it shows before its script runs; app.js sets them from the table.
    Only the <noscript> line and the product's name are the page's alone."""
    page = (STATIC / "index.html").read_text()
    body = page.split("<body>", 1)[1]
    texts = re.findall(r">([^<>]*[A-Za-z][^<>]*)<", body) + re.findall(r'aria-label="([^"]+)"', body)
    own = {"redisq", "The redisq dashboard needs JavaScript."}
    strings = set(re.findall(r'"((?:[^"\\]|\\.)*)"', TABLE.read_text()))
    assert sorted({t.strip() for t in texts} - own - strings) == []
