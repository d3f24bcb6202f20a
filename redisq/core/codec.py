"""The job envelope and its JSON codec.

The wire format is plain, versioned JSON so that any language or an HTTP admin route can enqueue a job.
Python values that JSON lacks (Decimal, bytes, pydantic models, sets) are written in their JSON form, and
the worker turns them back into the declared types from the task's signature (see `ArgumentCoercer`), with
pydantic in strict JSON mode. Pickle is never used.

Nothing changes on the way (issue 11): a float that JSON cannot hold (NaN, ±Infinity) is refused rather
than sent as null, and a value that does not fit its declared type is refused rather than passed on.
"""

from __future__ import annotations

import base64
import dataclasses
import decimal
import enum
import hashlib
import hmac
import inspect
import logging
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

import orjson

from .errors import InvalidArguments, PayloadTooLarge, SerializationError

if TYPE_CHECKING:
    from pydantic import TypeAdapter

log = logging.getLogger("redisq")

# Version 2 (issue 15) is a JSON array, `[2, task, args, kwargs, meta]` with an empty meta, then empty
# kwargs, left out: 40 bytes shorter than version 1's object `{"v":1,"task":...,"args":...,"kwargs":...,
# "meta":...}`, for every job kept in Redis. Version 1 payloads (jobs enqueued before) are still read.
ENVELOPE_VERSION = 2


class JobMeta(TypedDict, total=False):
    request_id: str
    traceparent: str
    timeout: float
    deps: int  # 1: the job waits for others; its worker reads their outcomes before it runs (issue 16)
    feed: str | list[str]  # the job id(s) whose result(s) it takes as its first argument (a chain's step)
    workflow: str  # the id of the workflow it is a step of (RedisQ.workflow)


class Envelope(TypedDict):
    v: int
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    meta: JobMeta


def _encode_extra(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (set, frozenset)):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_json(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic v2 models, without importing pydantic
        return dump(mode="json")
    raise TypeError(f"cannot encode {type(value).__qualname__} as JSON")


def _dataclass_json(value: Any) -> Any:
    """A dataclass as the worker gives it back: a pydantic dataclass through its own serializer (as a
    model, with its own config both ways), any other as the fields its constructor takes. Not orjson's
    own form, which leaves out fields named with a leading '_' (they would come back as their defaults)."""
    serializer = getattr(value, "__pydantic_serializer__", None)
    if serializer is not None:
        return serializer.to_python(value, mode="json")
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}


# Dataclasses go through _encode_extra (see _dataclass_json).
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def _encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_encode_extra, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise SerializationError(f"not JSON-serializable: {exc}") from exc


def dumps(value: Any, what: str = "value") -> bytes:
    """JSON for `value`; SerializationError for what JSON cannot hold as it is. `what` names the value
    in that error."""
    if value is None:  # most tasks' result: no encoder, no search for a NaN written as null
        return b"null"
    data = _encode(value)
    # orjson writes NaN and ±Infinity as null: without a null there is none to find. find(), not `in`:
    # bytes.__contains__ first tries its argument as an int, and that failure costs more than the search.
    if data.find(b"null") != -1:
        _refuse_non_finite(value, what)
    return data


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def encode_envelope(
    task: str,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    meta: JobMeta,
    max_bytes: int,
    version: int = ENVELOPE_VERSION,
) -> bytes:
    # A version 2 envelope, built as a plain list that orjson takes as it is (a tuple is an array), with no
    # copies and one call: this runs for every job enqueued.
    plain_kwargs = kwargs if isinstance(kwargs, dict) else dict(kwargs)
    envelope: list[Any] | dict[str, Any]
    if version == 1:  # Settings.envelope_version, during a rolling upgrade
        envelope = {"v": 1, "task": task, "args": args, "kwargs": plain_kwargs, "meta": meta}
    elif meta:
        envelope = [ENVELOPE_VERSION, task, args, plain_kwargs, meta]
    elif plain_kwargs:
        envelope = [ENVELOPE_VERSION, task, args, plain_kwargs]
    else:
        envelope = [ENVELOPE_VERSION, task, args]
    try:
        payload = orjson.dumps(envelope, default=_encode_extra, option=_OPTIONS)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise SerializationError(f"not JSON-serializable: {exc}") from exc
    if payload.find(b"null") != -1:  # the only cost of the check on the hot path (see dumps)
        _refuse_non_finite(args, "args")
        _refuse_non_finite(plain_kwargs, "kwargs")
        _refuse_non_finite(meta, "meta")
    if len(payload) > max_bytes:
        raise PayloadTooLarge(len(payload), max_bytes)
    return payload


# ---- floats that JSON cannot hold ------------------------------------------------------------------


def _refuse_non_finite(value: Any, what: str) -> None:
    """Raise SerializationError if a NaN or ±Infinity sits anywhere in `value` as JSON would encode it.

    orjson writes them as null, so the worker would get None instead (issue 11). A Decimal('NaN') is not
    one of them: it travels as the string "NaN" and comes back as it was.
    """
    found = _find_non_finite(value)
    if found is not None:
        path, number = found
        raise SerializationError(
            f"{what}{path} is {number!r}: JSON has no NaN or Infinity (it would arrive as None)"
        )


def _find_non_finite(value: Any) -> tuple[str, float] | None:
    """(path, the float) of the first NaN or ±Infinity in `value`, or None. The path is only built along
    the branch that holds one, on the way back up."""
    if isinstance(value, float):
        return None if math.isfinite(value) else ("", value)
    if isinstance(value, (str, int, bytes, type(None))):
        return None
    if isinstance(value, dict):
        return _in_items(value.items(), "[{!r}]")
    if isinstance(value, (list, tuple)):
        return _in_items(enumerate(value), "[{!r}]")
    if isinstance(value, (set, frozenset)):
        return _in_items((("", item) for item in value), "{{…}}")
    if isinstance(value, enum.Enum):  # orjson writes an enum as its value
        return _in_items([("value", value.value)], ".{}")
    # Dataclasses and pydantic models: what goes out (see _encode_extra), where floats are kept as they are.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = _dataclass_json(value)
    elif callable(dump := getattr(value, "model_dump", None)):
        data = dump(mode="json")
    else:
        return None
    return _in_items(data.items(), ".{}") if isinstance(data, dict) else _find_non_finite(data)


def _in_items(items: Iterable[tuple[Any, Any]], step: str) -> tuple[str, float] | None:
    for key, item in items:
        if isinstance(key, float) and not math.isfinite(key):  # a dict key: OPT_NON_STR_KEYS writes "null"
            return " has a key that", key
        found = _find_non_finite(item)
        if found is not None:
            return step.format(key) + found[0], found[1]
    return None


class MalformedPayload(ValueError):
    """A stored payload that is not a redisq envelope; the worker sends it to the dead letters."""


def decode_envelope(payload: bytes) -> Envelope:
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload(f"payload is not JSON: {exc}") from exc
    if isinstance(data, list) and 3 <= len(data) <= 5 and data[0] == ENVELOPE_VERSION:
        version, task, args = ENVELOPE_VERSION, data[1], data[2]
        kwargs, raw_meta = (data[3] if len(data) > 3 else {}), (data[4] if len(data) > 4 else {})
    elif isinstance(data, dict) and data.get("v") == 1:
        version, task, args = 1, data.get("task"), data.get("args", [])
        kwargs, raw_meta = data.get("kwargs", {}), data.get("meta")
    else:
        raise MalformedPayload("payload is not a redisq envelope (version 1 or 2)")
    if not isinstance(task, str) or not isinstance(args, list) or not isinstance(kwargs, dict):
        raise MalformedPayload("envelope fields task/args/kwargs have the wrong types")
    meta: JobMeta = typing.cast(JobMeta, raw_meta) if isinstance(raw_meta, dict) else {}
    return {
        "v": version,
        "task": task,
        "args": args,
        "kwargs": kwargs,
        "meta": meta,
    }


def sign(payload: bytes, key: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def verify(payload: bytes, signature: str | None, key: bytes) -> bool:
    return signature is not None and hmac.compare_digest(sign(payload, key), signature)


# ---- turning JSON back into the types a task declares -------------------------------------------------

# What JSON gives back as it is: a parameter annotated with these (or unannotated) needs no converting.
_PLAIN = (int, float, str, bool, type(None), None, typing.Any, object, list, dict)
_UNCHECKED = (typing.Any, object)


def _is_union(annotation: Any) -> bool:
    """`Optional[X]`, `Union[X, Y]` or `X | Y` (the last is a different type at runtime)."""
    return typing.get_origin(annotation) is typing.Union or isinstance(annotation, types.UnionType)


def _is_plain(annotation: Any) -> bool:
    """True where JSON already gives the declared type: int, float (JSON's 3 is a fine float), str, bool,
    None, Any, and lists, str-keyed dicts and unions of these."""
    if any(annotation is plain for plain in _PLAIN):
        return True
    args = typing.get_args(annotation)
    if _is_union(annotation):
        return all(_is_plain(a) for a in args)
    origin = typing.get_origin(annotation)
    if origin is list:
        return all(_is_plain(a) for a in args)
    if origin is dict:
        return len(args) == 2 and args[0] in (str, typing.Any) and _is_plain(args[1])
    return False


def _resolve_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """The parameters' annotations as types; one that cannot be resolved (a forward reference to a name
    that does not exist) is left out, and only that one."""
    try:
        return typing.get_type_hints(fn)
    except Exception:
        pass
    globalns = getattr(inspect.unwrap(fn), "__globals__", {})
    hints: dict[str, Any] = {}
    for name, annotation in getattr(fn, "__annotations__", {}).items():
        holder = types.SimpleNamespace(__annotations__={name: annotation})
        try:
            hints.update(typing.get_type_hints(holder, globalns))
        except Exception as exc:
            log.warning("%s: parameter %r stays as JSON gives it: %r", fn.__qualname__, name, exc)
    return hints


class _Validator:
    """One parameter's pydantic validator, run on the JSON text of its value in strict mode.

    Strict JSON mode takes the forms that the codec writes (ISO strings for dates and times, strings for
    UUID and Decimal, base64 for bytes, arrays for sets and tuples) and converts nothing else: "7" is no
    int. Pydantic's Python mode cannot do both (lax turns "7" into 7; strict takes no ISO string), hence
    the text.
    """

    __slots__ = ("_adapter", "_error", "_label")

    def __init__(self, adapter: TypeAdapter[Any], label: str) -> None:
        from pydantic import ValidationError

        self._adapter = adapter
        self._error = ValidationError
        self._label = label

    def __call__(self, value: Any) -> Any:
        try:
            data = orjson.dumps(value, default=_encode_extra, option=_OPTIONS)
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise InvalidArguments(f"{self._label}: not JSON: {exc}") from exc
        try:
            return self._adapter.validate_json(b"[" + data + b"]", strict=True)[0]
        except self._error as exc:
            raise InvalidArguments(self._describe(exc)) from exc

    def _describe(self, exc: Any) -> str:
        errors = exc.errors(include_url=False)
        parts = []
        for error in errors[:3]:
            where = "".join(f"[{step!r}]" for step in error["loc"][1:])  # [0] is the wrapping tuple's
            got = repr(error["input"])
            got = got if len(got) <= 60 else got[:57] + "..."
            parts.append(f"{self._label}{' at ' + where if where else ''}: {error['msg']} (got {got})")
        if len(errors) > 3:
            parts.append(f"and {len(errors) - 3} more")
        return "; ".join(parts)


def _validators(
    fn: Callable[..., Any],
    signature: inspect.Signature,
    hints: dict[str, Any],
    want: Callable[[Any], bool],
) -> dict[str, _Validator]:
    """A validator for each parameter whose annotation `want`s one. An annotation that pydantic cannot
    build a validator for leaves its parameter as JSON gives it: registering the task must not fail."""
    from pydantic import ConfigDict, TypeAdapter

    # base64: how the codec writes bytes. allow_inf_nan: Decimal('NaN') travels as "NaN" and must come
    # back. forbid: a key that a dataclass or TypedDict does not declare is an error, not dropped.
    config = ConfigDict(val_json_bytes="base64", allow_inf_nan=True, extra="forbid")
    out: dict[str, _Validator] = {}
    for name, param in signature.parameters.items():
        if name not in hints or not want(hints[name]):
            continue
        annotation = hints[name]
        if param.kind is param.VAR_POSITIONAL:
            annotation = types.GenericAlias(tuple, (annotation, ...))
        elif param.kind is param.VAR_KEYWORD:
            annotation = types.GenericAlias(dict, (str, annotation))
        # Wrapped in a 1-tuple: pydantic takes no config for a dataclass or TypedDict at the top (they
        # could have their own), but nested they inherit ours. A pydantic model keeps its own config,
        # the one it was dumped with.
        wrapped: Any = types.GenericAlias(tuple, (annotation,))
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(wrapped, config=config)
            problem = "" if adapter.pydantic_complete else "a name inside its type is not defined"
        except Exception as exc:  # pydantic's messages run to paragraphs: the first line says what
            problem = type(exc).__name__ + ": " + str(exc).split("\n", 1)[0]
        if problem:
            log.warning("%s: parameter %r stays as JSON gives it: %s", fn.__qualname__, name, problem)
            continue
        out[name] = _Validator(adapter, f"argument {name!r}")
    return out


def _needs_converting(annotation: Any) -> bool:
    return not _is_plain(annotation)


def _is_checked_plain(annotation: Any) -> bool:
    return _is_plain(annotation) and not any(annotation is a for a in _UNCHECKED)


class ArgumentCoercer:
    """Converts a job's decoded JSON arguments to the types its task declares.

    Built with the task, but resolves annotations and builds pydantic validators on first use: importing
    a module of many tasks stays fast, and a type defined below its task in the module still resolves.
    Only parameters whose JSON form is not their type get a validator: a task of ints and strings costs
    the worker nothing here.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._fn = fn
        self._signature = inspect.signature(fn)
        params = list(self._signature.parameters.values())
        # Plain positional parameters, the required ones first (Python enforces that order): any count of
        # positional arguments from the required to all of them binds, without `Signature.bind` (6 us
        # of the worker's CPU per job under a loaded profile's eye: 7% of a no-op drain).
        plain = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        required = sum(p.default is p.empty for p in params)
        self._plain_arity = range(required, len(params) + 1) if plain else range(0)
        self._hints: dict[str, Any] | None = None
        self._converters: dict[str, _Validator] | None = None
        self._checks: dict[str, _Validator] | None = None

    def _build(self, want: Callable[[Any], bool]) -> dict[str, _Validator]:
        if self._hints is None:
            self._hints = _resolve_hints(self._fn)
        return _validators(self._fn, self._signature, self._hints, want)

    def check_plain_types(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        """Raise InvalidArguments where a parameter of a plain JSON type (int, float, str, bool, lists and
        dicts of them, optional) got a value of another type, in strict JSON terms: "7" is no int, true
        is no int, 3 is a fine float.

        For untrusted input (enqueue by name over HTTP), after `__call__`, which has already validated and
        converted the other annotated parameters.
        """
        checks = self._checks
        if checks is None:
            checks = self._checks = self._build(_is_checked_plain)
        bound = self._signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            check = checks.get(name)
            if check is not None:
                check(value)

    def __call__(self, args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Arguments that can never fit the signature raise here (TypeError from binding, InvalidArguments
        from a value of the wrong type), before the task runs; the worker does not retry them."""
        converters = self._converters
        if converters is None:
            converters = self._converters = self._build(_needs_converting)
        if not converters:
            if kwargs or len(args) not in self._plain_arity:
                self._signature.bind(*args, **kwargs)
            return args, kwargs
        bound = self._signature.bind(*args, **kwargs)
        arguments = bound.arguments
        for name, convert in converters.items():
            if name in arguments:
                arguments[name] = convert(arguments[name])
        return list(bound.args), dict(bound.kwargs)
