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

import enum
import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import urlsplit

from redisq.core.errors import ConfigurationError

from .errors import AccessDenied, BodyTooLarge, NotAuthenticated, UnsupportedMediaType


class Access(str, enum.Enum):
    READ = "read"  # the GET routes: queues, stats, jobs
    ADMIN = "admin"  # everything, including the actions that change jobs and queues


AuthResult: TypeAlias = Access | bool | None  # what an auth callable returns

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
    """What an auth callable's answer grants. Anything outside the contract is the app's bug, not a 401."""
    if result is True:
        return Access.ADMIN
    if result is None or result is False:
        return None
    if isinstance(result, Access):
        return result
    raise TypeError(f"an admin auth callable must return Access, bool or None, not {type(result).__name__}")


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
