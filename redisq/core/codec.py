"""The job envelope and its JSON codec.

The wire format is plain, versioned JSON so that any language or an HTTP admin route can enqueue a job.
Python values that JSON lacks (Decimal, bytes, pydantic models, sets) are written in their JSON form, and
the worker turns them back into the declared types from the task's signature (see `ArgumentCoercer`), the
way pydantic validates a call. Pickle is never used.

Nothing changes on the way (issue 11): a float that JSON cannot hold (NaN, ±Infinity) is refused rather
than sent as null.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import hmac
import inspect
import math
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypedDict

import orjson

from .errors import PayloadTooLarge, SerializationError

ENVELOPE_VERSION = 1


class JobMeta(TypedDict, total=False):
    request_id: str
    traceparent: str
    timeout: float


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
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic v2 models, without importing pydantic
        return dump(mode="json")
    raise TypeError(f"cannot encode {type(value).__qualname__} as JSON")


def _encode(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_encode_extra, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise SerializationError(f"not JSON-serializable: {exc}") from exc


def dumps(value: Any, what: str = "value") -> bytes:
    """JSON for `value`; SerializationError for what JSON cannot hold as it is. `what` names the value
    in that error."""
    data = _encode(value)
    # orjson writes NaN and ±Infinity as null: without a null there is none to find. find(), not `in`:
    # bytes.__contains__ first tries its argument as an int, and that failure costs more than the search.
    if data.find(b"null") != -1:
        _refuse_non_finite(value, what)
    return data


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def encode_envelope(
    task: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], meta: JobMeta, max_bytes: int
) -> bytes:
    # An Envelope on the wire; built as a plain dict that orjson takes as it is (a tuple is an array), with
    # no copies and one call: this runs for every job enqueued.
    envelope = {
        "v": ENVELOPE_VERSION,
        "task": task,
        "args": args,
        "kwargs": kwargs if isinstance(kwargs, dict) else dict(kwargs),
        "meta": meta,
    }
    try:
        payload = orjson.dumps(envelope, default=_encode_extra, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise SerializationError(f"not JSON-serializable: {exc}") from exc
    if payload.find(b"null") != -1:  # the only cost of the check on the hot path (see dumps)
        _refuse_non_finite(args, "args")
        _refuse_non_finite(envelope["kwargs"], "kwargs")
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
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ((f.name, getattr(value, f.name, None)) for f in dataclasses.fields(value))
        return _in_items(fields, ".{}")
    if isinstance(value, enum.Enum):  # orjson writes an enum as its value
        return _in_items([("value", value.value)], ".{}")
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # a pydantic model: what goes out (see _encode_extra), which keeps its floats as is
        data = dump(mode="json")
        return _in_items(data.items(), ".{}") if isinstance(data, dict) else _find_non_finite(data)
    return None


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
    if not isinstance(data, dict) or data.get("v") != ENVELOPE_VERSION:
        raise MalformedPayload("payload is not a version-1 redisq envelope")
    task, args, kwargs = data.get("task"), data.get("args", []), data.get("kwargs", {})
    if not isinstance(task, str) or not isinstance(args, list) or not isinstance(kwargs, dict):
        raise MalformedPayload("envelope fields task/args/kwargs have the wrong types")
    raw_meta = data.get("meta")
    meta: JobMeta = typing.cast(JobMeta, raw_meta) if isinstance(raw_meta, dict) else {}
    return {
        "v": ENVELOPE_VERSION,
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

Converter = Callable[[Any], Any]


def _is_union(annotation: Any) -> bool:
    """`Optional[X]`, `Union[X, Y]` or `X | Y` (the last is a different type at runtime)."""
    return typing.get_origin(annotation) is typing.Union or type(annotation).__name__ == "UnionType"


def _converter_for(annotation: Any) -> Converter | None:
    """A function that turns the JSON form of `annotation` back into it, or None if JSON is already it."""
    origin = typing.get_origin(annotation)
    if _is_union(annotation):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = [c for c in (_converter_for(a) for a in members) if c is not None]
        if len(members) == 1 and inner:
            convert = inner[0]
            return lambda v: None if v is None else convert(v)
        return None
    if origin in (list, set, frozenset, tuple) and typing.get_args(annotation):
        item = _converter_for(typing.get_args(annotation)[0])
        container = origin
        if item is None:
            return None if origin is list else container
        return lambda v: container(item(x) for x in v)
    simple: dict[Any, Converter] = {
        dt.datetime: dt.datetime.fromisoformat,
        dt.date: dt.date.fromisoformat,
        dt.time: dt.time.fromisoformat,
        uuid.UUID: uuid.UUID,
        decimal.Decimal: decimal.Decimal,
        bytes: base64.b64decode,
    }
    if annotation in simple:
        target, convert = annotation, simple[annotation]
        return lambda v: v if isinstance(v, target) else convert(v)
    validate = getattr(annotation, "model_validate", None)
    if inspect.isclass(annotation) and callable(validate):
        return lambda v: v if isinstance(v, annotation) else validate(v)
    if inspect.isclass(annotation) and dataclasses.is_dataclass(annotation):
        cls = annotation
        return lambda v: cls(**v) if isinstance(v, dict) else v
    return None


class ArgumentCoercer:
    """Built once per task from its signature; converts decoded JSON arguments to the declared types."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self._signature = inspect.signature(fn)
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # unresolvable forward references: leave arguments as JSON gave them
            hints = {}
        params = list(self._signature.parameters.values())
        # Plain positional parameters without defaults: a matching count of positional arguments binds.
        self._plain_arity = (
            len(params)
            if all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in params)
            else None
        )
        self._converters = {
            name: conv
            for name in self._signature.parameters
            if name in hints and (conv := _converter_for(hints[name])) is not None
        }
        # Parameters annotated with a plain JSON scalar type (or that type | None): checked for callers
        # whose input is untrusted (see check_plain_types); the worker path never pays for this.
        self._plain: dict[str, type] = {}
        self._optional: dict[str, bool] = {}
        for name in self._signature.parameters:
            annotation = hints.get(name)
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            is_union = (
                typing.get_origin(annotation) is typing.Union or type(annotation).__name__ == "UnionType"
            )
            if is_union and len(members) == 1:
                annotation, self._optional[name] = members[0], True
            if annotation in (int, float, str, bool):
                self._plain[name] = annotation

    def check_plain_types(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        """Raise TypeError where a parameter annotated `int`, `float`, `str` or `bool` got another JSON type.

        For untrusted input (enqueue by name over HTTP), after `__call__`: JSON carries these four as
        themselves, so a mismatch ("seven" for an int) is a caller's mistake, not a value to convert.
        """
        bound = self._signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            expected = self._plain.get(name)
            if expected is None or (value is None and self._optional.get(name, False)):
                continue
            ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True  # JSON has one number type: 3 is a fine float
            if not ok:
                raise TypeError(f"{name} must be {expected.__name__}, got {type(value).__name__}")

    def __call__(self, args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        if not self._converters and not kwargs and len(args) == self._plain_arity:
            return args, kwargs
        # Arguments that can never fit the signature fail here, before the task runs, and are not retried.
        bound = self._signature.bind(*args, **kwargs)
        if not self._converters:
            return args, kwargs
        for name, value in bound.arguments.items():
            convert = self._converters.get(name)
            if convert is not None:
                bound.arguments[name] = convert(value)
        return list(bound.args), dict(bound.kwargs)
