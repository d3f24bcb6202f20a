"""Arguments come back as the types their task declares, nested too, through a real worker; values that
JSON cannot carry as they are (NaN, Infinity) are refused, never changed (issue 11)."""

from __future__ import annotations

import decimal
from typing import Any

import pytest

from redisq import JobFailed, RedisQ

from .conftest import running_worker


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
