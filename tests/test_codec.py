"""The JSON envelope: what is accepted, what is refused, and how types come back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from typing import Any

import pytest
from pydantic import BaseModel

from redisq import SerializationError
from redisq.core import codec


def test_envelope_round_trip_and_version() -> None:
    payload = codec.encode_envelope("t", (1, "a"), {"k": [1.5]}, {"request_id": "r"}, 10_000)
    assert codec.decode_envelope(payload) == {
        "v": 1,
        "task": "t",
        "args": [1, "a"],
        "kwargs": {"k": [1.5]},
        "meta": {"request_id": "r"},
    }


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe garbage",
        b"[1, 2]",
        b'{"v": 2, "task": "t"}',
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


class Model:
    """Shaped like a pydantic v2 model, without needing pydantic installed."""

    def __init__(self, name: str) -> None:
        self.name = name

    def model_dump(self, mode: str) -> dict[str, str]:
        return {"name": self.name}

    @classmethod
    def model_validate(cls, data: dict[str, str]) -> Model:
        return cls(**data)


def typed_task(p: Point, m: Model, when: dt.date, ids: list[uuid.UUID]) -> None: ...


def test_pydantic_like_models_and_dataclasses_come_back_typed() -> None:
    wire = codec.loads(codec.dumps([Point(1, 2), Model("ada"), dt.date(2026, 1, 2), [uuid.UUID(int=1)]]))
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
