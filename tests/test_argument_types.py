"""Arguments come back as the types their task declares, nested too, through a real worker; values that
JSON cannot carry as they are (NaN, Infinity) are refused, never changed (issue 11)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from typing import Any, Optional, Union

import pydantic
import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict  # pydantic takes typing.TypedDict only from Python 3.12

from redisq import InvalidArguments, JobFailed, RedisQ

from .conftest import running_worker


@dataclasses.dataclass(frozen=True)
class Visit:
    at: dt.datetime
    rooms: set[int]
    _note: str = ""  # orjson's own encoding leaves out a leading '_': it came back as the default


@pydantic.dataclasses.dataclass
class Badge:
    issued: dt.date
    serial: bytes  # the dataclass's own config (utf8) both ways


class Invoice(TypedDict):
    number: str
    total: decimal.Decimal


class Item(BaseModel):
    sku: uuid.UUID
    added: dt.date
    photo: bytes


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


UTC = dt.timezone.utc
ARGS: dict[str, Any] = {
    "when": dt.datetime(2026, 11, 22, 8, 0, 1, 5, tzinfo=UTC),
    "local": dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
    "naive": dt.datetime(2026, 11, 22, 8, 0),
    "day": dt.date(2026, 2, 3),
    "at": dt.time(8, 30, 15, 250),
    "who": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "amount": decimal.Decimal("10.250"),
    "not_a_number": decimal.Decimal("NaN"),
    "big": decimal.Decimal("-Infinity"),
    "blob": b"\x00\xfb\xff\xfb\xef\xbe",  # base64 with both '+' and '/' in it
    "tags": {"a", "b"},
    "frozen": frozenset({1, 2}),
    "pair": (1, "x"),
    "visit": Visit(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), {101, 102}, _note="kept"),
    "badge": Badge(dt.date(2026, 4, 1), b"B-17"),
    "invoice": Invoice(number="F-1", total=decimal.Decimal("99.90")),
    "item": Item(sku=uuid.UUID(int=7), added=dt.date(2025, 12, 31), photo=b"png"),
    "color": Color.BLUE,
    "maybe": uuid.UUID(int=9),
    "either": dt.date(2027, 1, 1),
    "ids": {"a": [uuid.UUID(int=1), uuid.UUID(int=2)], "b": []},
    "items": [Item(sku=uuid.UUID(int=3), added=dt.date(2024, 2, 29), photo=b"")],
    "days": (dt.date(2026, 1, 1), dt.date(2026, 1, 2)),
    "blobs": {"x": b"\x01\x02", "y": b"\xfe"},
    "stamps": {"start": dt.datetime(2026, 5, 1, 9, tzinfo=UTC)},
    "visits": [Visit(dt.datetime(2026, 3, 3, tzinfo=UTC), set())],
}


def assert_same(got: Any, sent: Any, where: str = "") -> None:
    """Equal, and of the same type all the way down (a frozenset equals a set, 1 equals 1.0)."""
    assert type(got) is type(sent), f"{where}: {type(got).__name__} is not {type(sent).__name__}"
    if isinstance(sent, decimal.Decimal):
        assert str(got) == str(sent), where  # Decimal('NaN') equals nothing, and 10.250 equals 10.25
    elif isinstance(sent, dict):
        assert got.keys() == sent.keys(), where
        for key in sent:
            assert_same(got[key], sent[key], f"{where}[{key!r}]")
    elif isinstance(sent, (list, tuple)):
        assert len(got) == len(sent), where
        for i, (g, s) in enumerate(zip(got, sent, strict=True)):
            assert_same(g, s, f"{where}[{i}]")
    elif dataclasses.is_dataclass(sent) or isinstance(sent, BaseModel):
        for name in vars(sent):
            assert_same(getattr(got, name), getattr(sent, name), f"{where}.{name}")
    elif isinstance(sent, (set, frozenset)):
        assert got == sent and all(type(g) is type(next(iter(sent))) for g in got), where
    else:
        assert got == sent, where
        if isinstance(sent, dt.datetime):
            assert got.utcoffset() == sent.utcoffset(), where


async def test_every_declared_type_comes_back_through_a_worker_nested_too(rq: RedisQ) -> None:
    received: list[dict[str, Any]] = []

    @rq.task
    async def everything(
        when: dt.datetime,
        local: dt.datetime,
        naive: dt.datetime,
        day: dt.date,
        at: dt.time,
        who: uuid.UUID,
        amount: decimal.Decimal,
        not_a_number: decimal.Decimal,
        big: decimal.Decimal,
        blob: bytes,
        tags: set[str],
        frozen: frozenset[int],
        pair: tuple[int, str],
        visit: Visit,
        badge: Badge,
        invoice: Invoice,
        item: Item,
        color: Color,
        maybe: uuid.UUID | None,
        either: Union[int, dt.date],  # noqa: UP007 - the typing spelling must work too
        ids: dict[str, list[uuid.UUID]],
        items: list[Item],
        days: tuple[dt.date, ...],
        blobs: dict[str, bytes],
        stamps: Optional[dict[str, dt.datetime]],  # noqa: UP045 - the typing spelling must work too
        visits: list[Visit],
    ) -> None:
        received.append({name: value for name, value in locals().items() if name != "received"})

    names = list(ARGS)
    positional = [ARGS[name] for name in names[:10]]
    keywords = {name: ARGS[name] for name in names[10:]}
    job = await everything.enqueue(*positional, **keywords)
    of_nones = await everything.enqueue(*positional, **{**keywords, "maybe": None, "stamps": None})
    async with running_worker(rq):
        await job.result(timeout=10)
        await of_nones.result(timeout=10)
    got, got_nones = sorted(received, key=lambda values: values["maybe"] is None)
    assert list(got) == names
    for name in names:
        assert_same(got[name], ARGS[name], name)
    assert got_nones["maybe"] is None and got_nones["stamps"] is None


async def test_star_args_and_star_kwargs_are_converted_item_by_item(rq: RedisQ) -> None:
    @rq.task
    async def spread(first: dt.date, *ids: uuid.UUID, **stamps: dt.datetime) -> list[str]:
        return [type(v).__name__ for v in (first, *ids, *stamps.values())]

    ids = uuid.UUID(int=1), uuid.UUID(int=2)
    job = await spread.enqueue(dt.date(2026, 1, 1), *ids, a=dt.datetime(2026, 1, 1))
    async with running_worker(rq):
        assert await job.result(timeout=5) == ["date", "UUID", "UUID", "datetime"]


BAD_NESTED: list[tuple[str, dict[str, Any]]] = [
    ("ids", {"ids": {"a": ["not-a-uuid"]}}),
    ("visit", {"visit": {"at": "2026-01-02T03:04:05Z", "rooms": ["101"]}}),  # "101" is no int
    ("visit", {"visit": {"at": 1767323045, "rooms": []}}),  # a number is no datetime
    ("visit", {"visit": {"at": "2026-01-02T03:04:05Z", "rooms": [], "lost": 1}}),  # never dropped
    ("invoice", {"invoice": {"number": "F-1", "total": "ninety"}}),
    ("items", {"items": [{"sku": str(uuid.UUID(int=1)), "added": "2026-02-30", "photo": ""}]}),
    ("days", {"days": ["2026-01-01T00:00:00"]}),  # a datetime is not a date
    ("blobs", {"blobs": {"x": "not base64!"}}),
    ("stamps", {"stamps": {"start": "tomorrow"}}),
]


def nested_task(rq: RedisQ, ran: list[int]) -> Any:
    @rq.task(name="types.nested", retries=3)
    async def nested(
        ids: dict[str, list[uuid.UUID]] | None = None,
        visit: Visit | None = None,
        invoice: Invoice | None = None,
        items: list[Item] | None = None,
        days: tuple[dt.date, ...] = (),
        blobs: dict[str, bytes] | None = None,
        stamps: Optional[dict[str, dt.datetime]] = None,  # noqa: UP045
    ) -> None:
        ran.append(1)

    return nested


async def test_a_nested_value_that_does_not_fit_goes_dead_unexecuted(rq: RedisQ) -> None:
    ran: list[int] = []
    nested = nested_task(rq, ran)
    jobs = [await nested.enqueue(**kwargs) for _, kwargs in BAD_NESTED]  # enqueue does not check types
    async with running_worker(rq):
        for (parameter, _), job in zip(BAD_NESTED, jobs, strict=True):
            with pytest.raises(JobFailed) as failed:
                await job.result(timeout=5)
            error = failed.value.error
            assert error is not None and error.type == "BadArguments", error
            assert f"argument {parameter!r}" in error.message
            assert (await job.info()).attempts == 1  # never retried: it cannot fit next time either
    assert ran == []


async def test_enqueue_by_name_refuses_a_nested_value_that_does_not_fit(rq: RedisQ, queue: str) -> None:
    ran: list[int] = []
    nested_task(rq, ran)
    for parameter, kwargs in BAD_NESTED:
        with pytest.raises(InvalidArguments, match=rf"types\.nested: argument '{parameter}'"):
            rq.call_by_name("types.nested", [], kwargs)
    # The same shapes, right: JSON from an HTTP client, turned into the declared types by the worker.
    good = {
        "ids": {"a": [str(uuid.UUID(int=1))]},
        "visit": {"at": "2026-01-02T03:04:05Z", "rooms": [101]},
        "invoice": {"number": "F-1", "total": "90.10"},
        "items": [{"sku": str(uuid.UUID(int=1)), "added": "2026-02-28", "photo": "cG5n"}],
        "days": ["2026-01-01"],
        "blobs": {"x": "AP8="},
        "stamps": {"start": "2026-01-02T03:04:05+01:00"},
    }
    job = (await rq.enqueue_many([rq.call_by_name("types.nested", [], good)]))[0]
    assert (await rq.stats(queue)).queued == 1
    async with running_worker(rq):
        await job.result(timeout=5)
    assert ran == [1]


async def test_enqueue_by_name_checks_plain_types_inside_lists_and_dicts(rq: RedisQ) -> None:
    @rq.task(name="types.plain")
    async def plain(counts: dict[str, int], ratios: list[float], names: list[str] | None = None) -> None: ...

    rq.call_by_name("types.plain", [{"a": 1}, [1, 2.5]], {"names": None})
    for args in ([{"a": "1"}, []], [{"a": True}, []], [{}, ["0.5"]], [{}, [], [7]]):
        with pytest.raises(InvalidArguments):
            rq.call_by_name("types.plain", args)


@pytest.mark.parametrize(
    "result",
    [float("nan"), {"score": float("inf")}, [1.0, float("-inf")]],
    ids=["nan", "inf-in-dict", "minus-inf-in-list"],
)
async def test_a_result_holding_nan_or_infinity_goes_dead_instead_of_turning_null(
    rq: RedisQ, result: Any
) -> None:
    @rq.task(retries=3)
    async def compute() -> Any:
        return result

    job = await compute.enqueue()
    async with running_worker(rq):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout=5)
    error = failed.value.error
    assert error is not None and error.type == "SerializationError"
    assert "NaN or Infinity" in error.message
    assert (await job.info()).attempts == 1


async def test_a_decimal_nan_result_comes_back_as_the_string_nan(rq: RedisQ) -> None:
    @rq.task
    async def measure(value: decimal.Decimal) -> decimal.Decimal:
        return value

    job = await measure.enqueue(decimal.Decimal("NaN"))
    async with running_worker(rq):
        assert await job.result(timeout=5) == "NaN"
