"""Every client and worker setting from arguments, the environment and a config file (issue 14).

Precedence: arguments > `REDISQ_<FIELD>` variables > the file > the defaults. The file is `--config PATH`,
else `redisq.toml` in the working directory, else the `[tool.redisq]` table of its `pyproject.toml`:

    app = "myapp.jobs:rq"        # what `redisq worker` runs when no APP is given
    [client]                     # any `Settings` field
    url = "redis://localhost:6379/0"
    [worker]                     # any `WorkerSettings` field, and `queues`
    concurrency = 20
    queues = "emails:5,reports"

Nothing here is global: `load_config` reads what it is given (or the process's environment) and returns a
value that also says where each setting came from, for `redisq config`. `RedisQ()` itself never reads a
file: an app's client is configured by its code and its environment alone.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .config import Settings, WorkerSettings, _parse, _type_name
from .errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the 3.10 floor
    import tomli as tomllib

FILE_NAME = "redisq.toml"
SECTIONS = ("client", "worker")
WORKER_EXTRA = ("queues",)  # worker keys that are not WorkerSettings fields
TOP_LEVEL = ("app",)
MASK = "***"


@dataclass(frozen=True)
class Origin:
    """Where one effective value came from: "arg", "env", "file" or "default", and the name it had there."""

    kind: str
    name: str  # `--concurrency`, `REDISQ_CONCURRENCY`, `redisq.toml: worker.concurrency`, ""

    def __str__(self) -> str:
        return self.kind if not self.name else f"{self.kind} ({self.name})"


@dataclass(frozen=True)
class ResolvedConfig:
    settings: Settings
    worker: WorkerSettings
    queues: str | None  # the worker's `--queues` spec ("emails:5,reports"), None: every queue of the app
    app: str | None  # module:attribute
    file: Path | None
    origins: dict[str, Origin]  # by dotted key: "client.url", "worker.concurrency", "app"

    def rows(self) -> list[tuple[str, Any, Origin]]:
        """(key, value, origin) for every setting, secrets masked."""
        out: list[tuple[str, Any, Origin]] = [("app", self.app, self.origins["app"])]
        for f in dataclasses.fields(Settings):
            key = f"client.{f.name}"
            out.append((key, mask(f.name, getattr(self.settings, f.name)), self.origins[key]))
        for f in dataclasses.fields(WorkerSettings):
            key = f"worker.{f.name}"
            out.append((key, getattr(self.worker, f.name), self.origins[key]))
        out.append(("worker.queues", self.queues, self.origins["worker.queues"]))
        return out


def mask(name: str, value: Any) -> Any:
    """A URL without its password, and no signing key at all."""
    if value is None:
        return None
    if name == "signing_key":
        return MASK
    if name == "url" and isinstance(value, str):
        parts = urlsplit(value)
        if parts.password:
            user = parts.username or ""
            host = parts.hostname or ""
            if parts.port:
                host = f"{host}:{parts.port}"
            return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))
    return value


def show(value: Any) -> str:
    """A value as `redisq config` prints it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def find_file(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path | None:
    """`explicit` (which must exist), else ./redisq.toml, else ./pyproject.toml when it has [tool.redisq]."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigurationError(f"config file {str(path)!r} does not exist")
        return path
    here = cwd or Path.cwd()
    if (here / FILE_NAME).is_file():
        return here / FILE_NAME
    pyproject = here / "pyproject.toml"
    if pyproject.is_file() and "redisq" in _read_toml(pyproject).get("tool", {}):
        return pyproject
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path.name}: not valid TOML: {exc}") from None


def read_file(path: Path) -> dict[str, Any]:
    """The file's redisq table, flattened to dotted keys, each checked to be a known setting."""
    data = _read_toml(path)
    label = path.name
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("redisq", {})
        label = "pyproject.toml [tool.redisq]"
    fields = known_keys()
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigurationError(f"{label}: {key} must be a table ([{key}])")
            for sub, item in value.items():
                flat[f"{key}.{sub}"] = item
        else:
            flat[key] = value
    for key in flat:
        if key not in fields:
            section = key.partition(".")[0]
            choices = sorted(k for k in fields if k.startswith(f"{section}.")) if section in SECTIONS else []
            known = ", ".join(choices or [*TOP_LEVEL, *(f"[{s}]" for s in SECTIONS)])
            raise ConfigurationError(f"{label}: unknown setting {key!r} (known: {known})")
    return {key: checked_value(label, key, fields[key], value) for key, value in flat.items()}


def known_keys() -> dict[str, str]:
    """Dotted key -> type name."""
    keys = {"app": "str | None", "worker.queues": "str | None"}
    keys.update({f"client.{f.name}": _type_name(f) for f in dataclasses.fields(Settings)})
    keys.update({f"worker.{f.name}": _type_name(f) for f in dataclasses.fields(WorkerSettings)})
    return keys


def checked_value(label: str, key: str, type_name: str, value: Any) -> Any:
    """A TOML value (or a Python one, from Django's settings) as the setting's type: it has a type, so
    nothing is parsed, only checked."""
    base = type_name.removesuffix(" | None")
    if base == "bytes" and isinstance(value, bytes):
        return value
    if key == "worker.queues" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "bytes": isinstance(value, str),
    }[base]
    if not ok:
        kind = {
            "int": "an integer",
            "float": "a number",
            "bool": "true or false",
            "str": "a string",
            "bytes": "a string",
        }[base]
        if key == "worker.queues":
            kind = "a string or a list of strings"
        raise ConfigurationError(f"{label}: {key} must be {kind}, got {value!r}")
    if base == "float":
        return float(value)
    if base == "bytes":
        return value.encode()
    return value


def _env_name(key: str) -> str:
    """`client.prefix` -> REDISQ_PREFIX, `worker.concurrency` -> REDISQ_CONCURRENCY, `app` -> REDISQ_APP."""
    return "REDISQ_" + key.rpartition(".")[2].upper()


def load_config(
    args: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    cwd: Path | None = None,
    arg_names: Mapping[str, str] | None = None,
    use_file: bool = True,
) -> ResolvedConfig:
    """Resolve every setting. `args` holds dotted keys (`worker.concurrency`) of what was given on the
    command line (None: not given); `arg_names` the option each came from, for `redisq config`.
    `use_file=False`: no config file is looked for (Django's settings are the file there)."""
    env = os.environ if environ is None else environ
    path = find_file(config_path, cwd) if use_file else None
    from_file = read_file(path) if path is not None else {}
    label = path.name if path is not None else ""
    given = {k: v for k, v in (args or {}).items() if v is not None}
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    for key, type_name in known_keys().items():
        variable = _env_name(key)
        raw = env.get(variable)
        if key == "client.url" and raw is None and env.get("REDIS_URL"):
            variable, raw = "REDIS_URL", env["REDIS_URL"]
        if key in given:
            values[key], origins[key] = given[key], Origin("arg", (arg_names or {}).get(key, ""))
        elif raw is not None and raw != "":
            values[key] = _parse(variable, type_name.removesuffix(" | None"), raw)
            origins[key] = Origin("env", variable)
        elif key in from_file:
            values[key], origins[key] = from_file[key], Origin("file", f"{label}: {key}")
        else:
            origins[key] = Origin("default", "")
    settings = _build(Settings, "client", values, origins)
    worker = _build(WorkerSettings, "worker", values, origins)
    return ResolvedConfig(
        settings=settings,
        worker=worker,
        queues=values.get("worker.queues"),
        app=values.get("app"),
        file=path,
        origins=origins,
    )


def _build(cls: Any, section: str, values: dict[str, Any], origins: dict[str, Origin]) -> Any:
    chosen = {k.partition(".")[2]: v for k, v in values.items() if k.startswith(f"{section}.")}
    chosen.pop("queues", None)
    try:
        return cls(**chosen)
    except ConfigurationError as exc:
        # The dataclass checks the combination; name where each value it was given came from.
        given = [f"{section}.{k} from {origins[f'{section}.{k}']}" for k in sorted(chosen)]
        raise ConfigurationError(f"{exc} ({'; '.join(given)})") from None
