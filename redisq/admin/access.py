"""Who may use the admin API, and the check that keeps other sites from using a browser's session with it.

Framework-free: the Starlette app, the FastAPI router and the Flask blueprint all apply this policy.
The contract, the same for every adapter:

- Nothing is served until access is configured: an `auth` callable (Starlette: `(request) -> ...`, sync or
  async; FastAPI: a dependency) or `allow_anonymous="read"`/`"admin"`. Otherwise every request gets a 401
  whose body says how to configure it.
- `auth` answers `Access.ADMIN`/`True` (everything), `Access.READ` (the GET routes), or `None`/`False` (no
  access: 401, unless `allow_anonymous` grants a level to everyone). READ on a mutating route is a 403.
- Mutating routes (POST, DELETE) refuse cross-site requests (403) without needing a session or a token:
  a browser says where a request comes from in `Sec-Fetch-Site` and `Origin`, and a page cannot forge
  either. Origins listed in `trusted_origins` (e.g. a separate admin front end) pass. A request body must
  be `application/json` (415 otherwise): a cross-site HTML form cannot send that type, and a script on
  another site cannot send it without a CORS preflight that this API never grants.
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import inspect
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias
from urllib.parse import urlsplit

from redisq.core.client import RedisQ
from redisq.core.errors import ConfigurationError

from .errors import AccessDenied, BodyTooLarge, NotAuthenticated, QueueNotFound, UnsupportedMediaType


class Access(str, enum.Enum):
    READ = "read"  # the GET routes: queues, stats, jobs
    ADMIN = "admin"  # everything, including the actions that change jobs and queues


Visible = Callable[[str], bool]  # which queues a request may see (issue 17, scope.py)


def everything(queue: str) -> bool:
    return True


_WILDCARDS = frozenset("*?[")


@dataclass(frozen=True)
class QueueAccess:
    """Access per queue (issue 17), as an auth callable may answer: `QueueAccess({"emails": Access.ADMIN,
    "reports-*": Access.READ})`; a plain mapping means the same. A queue is named exactly or by a
    shell-style pattern: an exact name wins, then the first pattern that matches; others get `default`
    (no access: the queue is hidden, its routes answer 404 as for a queue that does not exist)."""

    queues: Mapping[str, Access | None] = field(default_factory=dict)
    default: Access | None = None

    def __post_init__(self) -> None:
        for name, level in self.queues.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"QueueAccess names queues by non-empty strings, not {name!r}")
            if level is not None and not isinstance(level, Access):
                raise TypeError(f"QueueAccess gives an Access or None per queue, not {level!r} for {name!r}")
        if self.default is not None and not isinstance(self.default, Access):
            raise TypeError(f"QueueAccess's default is an Access or None, not {self.default!r}")

    def level_for(self, queue: str) -> Access | None:
        if queue in self.queues:
            return self.queues[queue]
        for pattern, level in self.queues.items():
            if _WILDCARDS & set(pattern) and fnmatch.fnmatchcase(queue, pattern):
                return level
        return self.default

    @property
    def highest(self) -> Access | None:
        levels = {*self.queues.values(), self.default} - {None}
        if Access.ADMIN in levels:
            return Access.ADMIN
        return Access.READ if levels else None


@dataclass(frozen=True)
class Grant:
    """What a request may do: `level` on every queue, or per queue through `scope`."""

    level: Access  # the highest level granted anywhere (what `/_me` reports)
    scope: QueueAccess | None = None  # None: `level` on every queue

    @property
    def every_queue(self) -> bool:
        return self.scope is None

    def for_queue(self, queue: str) -> Access | None:
        return self.level if self.scope is None else self.scope.level_for(queue)

    def sees(self, queue: str) -> bool:
        return self.for_queue(queue) is not None

    @property
    def visible(self) -> Visible:
        """A filter for the routes over every queue (`everything` when nothing is hidden)."""
        return everything if self.scope is None else self.sees


def require_level(grant: Grant, queue: str, needed: Access, hidden: Exception) -> Access:
    """The level `grant` has on `queue`; raise `hidden` (a not-found error) if it has none there, and
    AccessDenied if `needed` is ADMIN and it may only read it."""
    level = grant.for_queue(queue)
    if level is None:
        raise hidden
    if needed is Access.ADMIN and level is not Access.ADMIN:
        raise AccessDenied(f"this action needs admin access to queue {queue!r}; read-only was granted")
    return level


AuthResult: TypeAlias = Access | QueueAccess | Mapping[str, Access | None] | bool | None  # an auth's answer

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Sec-Fetch-Site values that a browser sends for a request from the API's own origin, or typed by the user.
_SAME_ORIGIN_FETCH = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}

CONFIGURE_HINT = (
    "pass auth=<callable returning Access.ADMIN, Access.READ or None> to admin_app()/admin_router(), "
    "or allow_anonymous='read' (or 'admin') to serve everyone"
)


def check_auth_callable(auth: object, takes: str = "the request") -> None:
    """An auth callable must take one argument, the request: checked when the admin app is built, not
    as a 500 TypeError on the first request (issue 11)."""
    if auth is None:
        return
    if not callable(auth):
        raise ConfigurationError(f"auth must be a callable that takes {takes}, not {type(auth).__name__}")
    try:
        signature = inspect.signature(auth)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check
        return
    try:
        signature.bind(object())
    except TypeError:
        raise ConfigurationError(
            f"auth must take one argument, {takes}, and return Access.ADMIN, Access.READ (or True) to "
            f"grant access, None (or False) to refuse; {getattr(auth, '__qualname__', auth)!r} has the "
            f"signature {signature}"
        ) from None


def granted_level(result: object) -> Access | None:
    """The level an auth callable's answer grants on every queue. Anything outside the contract is the
    app's bug, not a 401."""
    if result is True:
        return Access.ADMIN
    if result is None or result is False:
        return None
    if isinstance(result, Access):
        return result
    raise TypeError(
        "an admin auth callable must return Access, QueueAccess (or a mapping of queue to Access), bool "
        f"or None, not {type(result).__name__}"
    )


def granted_scope(result: object) -> QueueAccess | None:
    """The access per queue an answer grants, if it grants it per queue."""
    if isinstance(result, QueueAccess):
        return result
    if isinstance(result, Mapping):
        return QueueAccess(dict(result))
    return None


def anonymous_level(allow_anonymous: Access | str | bool) -> Access | None:
    if allow_anonymous is False:
        return None
    if allow_anonymous is True:
        raise ValueError("allow_anonymous must be 'read' or 'admin' (say which), not True")
    try:
        return Access(allow_anonymous)
    except ValueError:
        raise ValueError(
            f"allow_anonymous must be False, 'read' or 'admin', not {allow_anonymous!r}"
        ) from None


def normalize_origin(origin: str) -> str | None:
    """`scheme://host:port`, lower-case, with the default port written out; None if it is not an origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if not scheme or not host or parts.path not in ("", "/"):
        return None
    if ":" in host:  # urlsplit drops an IPv6 literal's brackets
        host = f"[{host}]"
    return f"{scheme}://{host}:{port if port is not None else _DEFAULT_PORTS.get(scheme, '')}"


def require_json(headers: Mapping[str, str]) -> None:
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType("request bodies must be JSON (Content-Type: application/json)")


@dataclass(frozen=True)
class AccessPolicy:
    """The access rules of one admin app or router, built once by its factory."""

    anonymous: Access | None
    has_auth: bool
    trusted_origins: frozenset[str]
    max_body_bytes: int

    @classmethod
    def build(
        cls,
        *,
        has_auth: bool,
        allow_anonymous: Access | str | bool,
        trusted_origins: Iterable[str],
        max_body_bytes: int,
    ) -> AccessPolicy:
        trusted = set()
        for origin in trusted_origins:
            normalized = normalize_origin(origin)
            if normalized is None:
                raise ValueError(
                    f"trusted_origins needs origins like 'https://admin.example.com', not {origin!r}"
                )
            trusted.add(normalized)
        return cls(anonymous_level(allow_anonymous), has_auth, frozenset(trusted), max_body_bytes)

    def check_request(self, method: str, scheme: str, headers: Mapping[str, str]) -> None:
        """Before auth runs: refuse cross-site writes and non-JSON bodies. `headers` is case-insensitive."""
        if method.upper() not in MUTATING_METHODS:
            return
        reason = self.cross_site_reason(scheme, headers)
        if reason is not None:
            raise AccessDenied(f"cross-site request refused: {reason}")
        length = headers.get("content-length")
        if bool(headers.get("transfer-encoding")) or (length is not None and length.strip() != "0"):
            require_json(headers)
        if length is not None and length.strip().isdigit() and int(length) > self.max_body_bytes:
            raise BodyTooLarge(f"request body over {self.max_body_bytes} bytes")

    def cross_site_reason(self, scheme: str, headers: Mapping[str, str]) -> str | None:
        origin = headers.get("origin")
        normalized = normalize_origin(origin) if origin is not None else None
        if normalized is not None and normalized in self.trusted_origins:
            return None
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site.strip().lower() not in _SAME_ORIGIN_FETCH:
            return f"Sec-Fetch-Site is {fetch_site!r}"
        if origin is None:
            return None  # not from a browser page, or a same-origin GET-like navigation
        host = headers.get("host", "")
        own = normalize_origin(f"{scheme}://{host}") if host else None
        if normalized is None or normalized != own:
            return f"Origin {origin!r} is not this server's origin nor a trusted one"
        return None

    def grant(
        self, result: object, needed: Access, queue: str | None = None, every_queue: bool = False
    ) -> Grant:
        """The auth answer as a Grant; raise 401/403 unless `needed` is granted (on `queue`, for a queue's
        routes; on every queue with `every_queue`, for the routes about the whole server). A queue hidden
        from the request is a 404 QueueNotFound, as a queue that does not exist."""
        scope = granted_scope(result)
        if scope is None:
            return Grant(self.check_access(result, needed))
        highest = scope.highest
        if highest is None:  # someone the app knows, with no queue open to them
            raise AccessDenied("no queue is open to this user")
        grant = Grant(highest, scope)
        if every_queue:
            raise AccessDenied("this route is about every queue; access was granted to some queues only")
        if queue is not None:
            require_level(grant, queue, needed, QueueNotFound(f"no queue {queue!r}"))
        elif needed is Access.ADMIN and highest is not Access.ADMIN:
            raise AccessDenied("this action needs admin access; read-only access was granted")
        return grant

    def check_access(self, result: object, needed: Access) -> Access:
        """Combine the auth answer with the anonymous level; raise 401/403 unless `needed` is granted."""
        granted = granted_level(result)
        level = granted or self.anonymous
        if level is None:
            if not self.has_auth:
                raise NotAuthenticated(
                    "the redisq admin API serves no one until access is configured", hint=CONFIGURE_HINT
                )
            raise NotAuthenticated("authentication required")
        if needed is Access.ADMIN and level is not Access.ADMIN:
            if granted is None and self.has_auth:  # an anonymous reader, who could still log in
                raise NotAuthenticated("this action needs admin access: authenticate")
            raise AccessDenied("this action needs admin access; read-only access was granted")
        return level


def max_body_bytes(rq: RedisQ) -> int:
    """How much of a request body to read: room for a job at the payload limit, written out loosely."""
    return 2 * rq.settings.max_payload_bytes + 64 * 1024


class PolicyPerClient:
    """The AccessPolicy of a mount that serves several clients (Flask: one per app; Django: one per mount):
    built per client on first use, as the body limit follows each client's payload limit."""

    def __init__(
        self, *, has_auth: bool, allow_anonymous: Access | str | bool, trusted_origins: Iterable[str]
    ) -> None:
        origins = tuple(trusted_origins)
        self._template = AccessPolicy.build(  # bad options fail here, when the mount is built
            has_auth=has_auth,
            allow_anonymous=allow_anonymous,
            trusted_origins=origins,
            max_body_bytes=0,
        )
        self._built: weakref.WeakKeyDictionary[RedisQ, AccessPolicy] = weakref.WeakKeyDictionary()

    def of(self, rq: RedisQ) -> AccessPolicy:
        found = self._built.get(rq)
        if found is None:
            found = self._built[rq] = dataclasses.replace(self._template, max_body_bytes=max_body_bytes(rq))
        return found
