"""The page and its files, free of any web framework: which answer a request gets, with which headers.

`GET M/` answers a browser's navigation (an Accept header that prefers HTML) with the page and anything
else with the admin API's JSON; `GET M/_static/<file>` serves the files next to it. The page refers to
everything by relative URLs, so it works under any mount point as long as it is served at `M/` (with
the slash): `M` without it is redirected there.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE = "index.html"

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
# The assets' names carry no version: a browser may keep them, but asks whether they changed (ETag).
STATIC_HEADERS = {**PAGE_HEADERS, "Cache-Control": "no-cache"}

# Fixed here, not left to the platform's mime.types (which maps .js differently from system to system).
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
# One file name, no folders: nothing outside STATIC_DIR can be named, and no hidden files.
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class FileAnswer:
    status: int  # 200, or 304 when the browser's copy is current
    body: bytes
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)


def _quality(accept: str, wanted: str) -> float:
    """The q-value that an Accept header gives `wanted` (its most specific matching range decides)."""
    kind = wanted.split("/", 1)[0]
    best, best_rank = 0.0, -1
    for item in accept.split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        media_range = media_range.lower()
        rank = {wanted: 2, f"{kind}/*": 1, "*/*": 0}.get(media_range)
        if rank is None or rank < best_rank:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        best, best_rank = (max(best, q) if rank == best_rank else q), rank
    return best


def prefers_html(accept: str | None) -> bool:
    """A browser's navigation: HTML ranked above JSON. `*/*` alone (curl, httpx) keeps the JSON."""
    if not accept:
        return False
    return _quality(accept, "text/html") > _quality(accept, "application/json")


def slash_redirect(path: str, query: str = "") -> str | None:
    """For `.../queues` (no trailing slash): a relative Location to `.../queues/`, else None.

    Relative, so it holds behind a proxy that strips or adds a prefix.
    """
    if path.endswith("/"):
        return None
    location = path.rsplit("/", 1)[-1] + "/"
    return f"{location}?{query}" if query else location


def _etag(data: bytes) -> str:
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


def _media_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return MEDIA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def static_file(name: str, if_none_match: str | None = None) -> FileAnswer | None:
    """A file of STATIC_DIR by its bare name, or None (a 404): other names never reach the disk."""
    if not _FILE_NAME.fullmatch(name) or ".." in name:
        return None
    path = STATIC_DIR / name
    try:
        if path.resolve().parent != STATIC_DIR or not path.is_file():
            return None
        data = path.read_bytes()  # a few small files, read on request: an upgrade shows at once
    except OSError:
        return None
    etag = _etag(data)
    headers = {**(PAGE_HEADERS if name == PAGE else STATIC_HEADERS), "ETag": etag}
    if if_none_match is not None and etag in (tag.strip() for tag in if_none_match.split(",")):
        return FileAnswer(304, b"", _media_type(name), headers)
    return FileAnswer(200, data, _media_type(name), headers)


def page() -> FileAnswer | None:
    """The dashboard's page (never a 304: it is not stored)."""
    found = static_file(PAGE)
    if found is None:
        return None
    headers = {k: v for k, v in found.headers.items() if k != "ETag"}
    return FileAnswer(200, found.body, found.media_type, headers)
