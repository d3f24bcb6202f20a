"""The JSON envelope: what is accepted, what is refused, and how types come back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel

from redisq import InvalidArguments, SerializationError
from redisq.core import codec

TZ_530 = dt.timezone(dt.timedelta(hours=5, minutes=30))


def test_envelope_round_trip_and_version() -> None:
    payload = codec.encode_envelope("t", (1, "a"), {"k": [1.5]}, {"request_id": "r"}, 10_000)
    assert payload == b'[2,"t",[1,"a"],{"k":[1.5]},{"request_id":"r"}]'
    assert codec.decode_envelope(payload) == {
        "v": 2,
        "task": "t",
        "args": [1, "a"],
        "kwargs": {"k": [1.5]},
        "meta": {"request_id": "r"},
    }


@pytest.mark.parametrize(
    ("kwargs", "meta", "written"),
    [
        ({}, {}, b'[2,"t",[1]]'),
        ({"k": 1}, {}, b'[2,"t",[1],{"k":1}]'),
        ({}, {"request_id": "r"}, b'[2,"t",[1],{},{"request_id":"r"}]'),
    ],
)
def test_empty_kwargs_and_meta_are_left_out(
    kwargs: dict[str, int], meta: codec.JobMeta, written: bytes
) -> None:
    payload = codec.encode_envelope("t", (1,), kwargs, meta, 10_000)
    assert payload == written
    decoded = codec.decode_envelope(payload)
    assert (decoded["args"], decoded["kwargs"], decoded["meta"]) == ([1], kwargs, meta)


def test_version_1_envelopes_of_jobs_enqueued_before_are_still_read() -> None:
    payload = b'{"v":1,"task":"t","args":[1],"kwargs":{"k":2},"meta":{"request_id":"r"}}'
    assert codec.decode_envelope(payload) == {
        "v": 1,
        "task": "t",
        "args": [1],
        "kwargs": {"k": 2},
        "meta": {"request_id": "r"},
    }


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe garbage",
        b"[1, 2]",
        b'{"v": 2, "task": "t"}',
        b'[2, "t"]',
        b"[2, 5, []]",
        b'[2, "t", {}]',
        b'[2, "t", [], [], {}]',
        b'[3, "t", []]',
        b'{"v": 1, "task": 5, "args": [], "kwargs": {}}',
    ],
)
def test_malformed_payloads_are_refused(raw: bytes) -> None:
    with pytest.raises(codec.MalformedPayload):
        codec.decode_envelope(raw)


def test_unencodable_values_name_their_type() -> None:
    class Opaque:
        pass

    with pytest.raises(SerializationError, match="Opaque"):
        codec.dumps({"x": Opaque()})


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Model(BaseModel):
    name: str


def typed_task(p: Point, m: Model, when: dt.date, ids: list[uuid.UUID]) -> None: ...


def test_pydantic_models_and_dataclasses_come_back_typed() -> None:
    wire = codec.loads(codec.dumps([Point(1, 2), Model(name="ada"), dt.date(2026, 1, 2), [uuid.UUID(int=1)]]))
    args, _ = codec.ArgumentCoercer(typed_task)(wire, {})
    assert args[0] == Point(1, 2)
    assert isinstance(args[1], Model) and args[1].name == "ada"
    assert args[2] == dt.date(2026, 1, 2) and args[3] == [uuid.UUID(int=1)]


# ---- NaN and Infinity: refused, never sent as null (issue 11) -----------------------------------------

NAN, INF = float("nan"), float("inf")


@dataclasses.dataclass
class Reading:
    label: str
    value: float


class Sample(BaseModel):
    readings: list[float]


class Level(enum.Enum):
    UNKNOWN = NAN


@pytest.mark.parametrize(
    ("args", "kwargs", "where"),
    [
        ((NAN,), {}, "args[0] is nan"),
        ((1, [2.0, INF]), {}, "args[1][1] is inf"),
        (((1.0, -INF),), {}, "args[0][1] is -inf"),
        (({1.5, NAN},), {}, "args[0]{…} is nan"),
        (({"a": {"b": NAN}},), {}, "args[0]['a']['b'] is nan"),
        (({NAN: "key"},), {}, "args[0] has a key that is nan"),
        ((Reading("t", INF),), {}, "args[0].value is inf"),
        ((Sample(readings=[1.0, NAN]),), {}, "args[0].readings[1] is nan"),
        (([None, Level.UNKNOWN],), {}, "args[0][1].value is nan"),
        ((), {"ratio": NAN}, "kwargs['ratio'] is nan"),
        ((), {"deep": [{"x": (1, [INF])}]}, "kwargs['deep'][0]['x'][1][0] is inf"),
    ],
)
def test_nan_and_infinity_are_refused_wherever_they_sit(
    args: tuple[Any, ...], kwargs: dict[str, Any], where: str
) -> None:
    with pytest.raises(SerializationError) as refused:
        codec.encode_envelope("t", args, kwargs, {}, 10_000)
    assert where in str(refused.value) and "JSON has no NaN or Infinity" in str(refused.value)


def test_nulls_of_their_own_and_decimal_nan_pass_unchanged() -> None:
    args = (None, "null", [None], decimal.Decimal("NaN"), decimal.Decimal("-Infinity"), 1.5)
    payload = codec.encode_envelope("t", args, {"k": None}, {}, 10_000)
    assert codec.decode_envelope(payload)["args"] == [None, "null", [None], "NaN", "-Infinity", 1.5]


def test_other_values_name_themselves_in_the_error() -> None:
    with pytest.raises(SerializationError, match=r"result\['score'\] is nan"):
        codec.dumps({"score": NAN}, "result")


# ---- converting back: pydantic in strict JSON mode -----------------------------------------------------


class Shade(enum.Enum):
    DARK = "dark"


@pytest.mark.parametrize(
    ("annotation", "wire", "expected"),
    [
        (dt.datetime, "2026-01-02T03:04:05.000006+05:30", dt.datetime(2026, 1, 2, 3, 4, 5, 6, TZ_530)),
        (dt.datetime, "2026-01-02T03:04:05", dt.datetime(2026, 1, 2, 3, 4, 5)),
        (dt.date, "2026-01-02", dt.date(2026, 1, 2)),
        (dt.time, "03:04:05.000250", dt.time(3, 4, 5, 250)),
        (uuid.UUID, "00000000-0000-0000-0000-000000000007", uuid.UUID(int=7)),
        (decimal.Decimal, "1.10", decimal.Decimal("1.10")),
        (decimal.Decimal, "-Infinity", decimal.Decimal("-Infinity")),
        (decimal.Decimal, 2, decimal.Decimal(2)),  # a JSON number is a fine Decimal (from HTTP)
        (bytes, "APv/", b"\x00\xfb\xff"),
        (set[int], [1, 2], {1, 2}),
        (frozenset[str], ["a"], frozenset({"a"})),
        (tuple[int, str], [1, "x"], (1, "x")),
        (tuple[dt.date, ...], ["2026-01-02"], (dt.date(2026, 1, 2),)),
        (Shade, "dark", Shade.DARK),
        (dict[str, uuid.UUID], {"a": "00000000-0000-0000-0000-000000000001"}, {"a": uuid.UUID(int=1)}),
        (dict[int, dt.date], {"1": "2026-01-02"}, {1: dt.date(2026, 1, 2)}),  # JSON keys are strings
        (Point | None, None, None),
        (Point | None, {"x": 1, "y": 2}, Point(1, 2)),
    ],
)
def test_each_type_comes_back_from_its_json_form(annotation: Any, wire: Any, expected: Any) -> None:
    def task(value: Any) -> None: ...

    task.__annotations__ = {"value": annotation}
    (got,), _ = codec.ArgumentCoercer(task)([wire], {})
    assert got == expected and type(got) is type(expected)
    if isinstance(expected, decimal.Decimal):
        assert str(got) == str(expected)


@pytest.mark.parametrize(
    ("annotation", "wire"),
    [
        (dt.datetime, 1767323045),  # no epoch numbers: the codec writes ISO strings
        (dt.datetime, "next tuesday"),
        (dt.date, "2026-01-02T00:00:00"),  # a datetime is not a date
        (uuid.UUID, 7),
        (decimal.Decimal, "ten"),
        (bytes, "not base64!"),
        (set[int], ["1"]),  # strict: "1" is no int
        (tuple[int, str], [1]),
        (list[uuid.UUID], ["00000000-0000-0000-0000-000000000001", "x"]),
        (Shade, "light"),
        (Point, {"x": 1, "y": 2, "z": 3}),  # a field the dataclass lacks is not dropped
        (Point, {"x": "1", "y": 2}),
        (Model, {"name": 5}),
    ],
)
def test_a_json_value_that_does_not_fit_is_refused_not_converted(annotation: Any, wire: Any) -> None:
    def task(value: Any) -> None: ...

    task.__annotations__ = {"value": annotation}
    with pytest.raises(InvalidArguments, match="argument 'value'"):
        codec.ArgumentCoercer(task)([wire], {})


def test_plain_parameters_do_not_pay_for_pydantic_on_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a TypeAdapter was built for a plain JSON parameter")

    monkeypatch.setattr(pydantic, "TypeAdapter", refuse)

    def task(  # type: ignore[no-untyped-def]
        a: int, b: float, c: str | None, d: list[dict[str, Any]], e: Any, f: object, g=None
    ) -> None: ...

    coerce = codec.ArgumentCoercer(task)
    args = [1, 2, None, [{"k": [1]}], {"x": 1}, "y", True]
    assert coerce(args, {})[0] is args  # handed on as decoded, not rebuilt
    assert coerce([1, 2.5, "c", []], {"e": 1, "f": 2}) == ([1, 2.5, "c", []], {"e": 1, "f": 2})
    with pytest.raises(TypeError):
        coerce([1], {})
    # Each count of positional arguments from the required ones to all of them binds; one fewer or one
    # more does not, and neither does a keyword that is not a parameter.
    for count in range(6, 8):
        assert coerce(args[:count], {}) == (args[:count], {})
    for wrong in ([1, 2, None, [], {}], [*args, 8]):
        with pytest.raises(TypeError):
            coerce(wrong, {})
    with pytest.raises(TypeError):
        coerce(args[:6], {"h": 1})


def test_annotations_are_resolved_at_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    def task(when: LaterDefined) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    coerce = codec.ArgumentCoercer(task)  # the name does not exist yet: no error, nothing resolved
    monkeypatch.setitem(globals(), "LaterDefined", dt.date)
    assert coerce(["2026-01-02"], {}) == ([dt.date(2026, 1, 2)], {})


class Unschemable:
    """A class pydantic has no schema for."""


def test_unresolvable_or_unschemable_annotations_leave_only_their_parameter_as_json(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def task(a: NoSuchName, b: Unschemable, c: dt.date, d: Later) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    coerce = codec.ArgumentCoercer(task)
    args, _ = coerce([{"x": 1}, "raw", "2026-01-02", 5], {})
    assert args == [{"x": 1}, "raw", dt.date(2026, 1, 2), 5]
    warned = " ".join(record.getMessage() for record in caplog.records)
    for name in "abd":
        assert f"parameter {name!r} stays as JSON gives it" in warned


class Later(BaseModel):
    item: NotDefinedAnywhere  # type: ignore[name-defined]  # noqa: F821
