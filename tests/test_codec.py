"""The JSON envelope: what is accepted, what is refused, and how types come back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest

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
