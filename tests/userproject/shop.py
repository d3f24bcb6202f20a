"""A user's app, as redisq.testing's users write one: module-level clients, FastAPI and Flask
(tests/test_testing.py runs checks_shop.py against it in a pytest of its own)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from flask import Flask

from redisq import Backoff, RedisQ
from redisq.fastapi import RedisQMiddleware
from redisq.flask import RedisQ as FlaskRedisQ
from redisq.flask import enqueue_after_request

rq = RedisQ()
sent: list[int] = []
charges: list[int] = []
digests: list[str] = []


@rq.task(queue="emails")
async def send_welcome(user_id: int) -> str:
    sent.append(user_id)
    return f"welcome {user_id}"


@rq.task(queue="payments", retries=3, backoff=Backoff.exponential(base_s=60, cap_s=600))
async def charge(order_id: int) -> int:
    charges.append(order_id)
    if len(charges) == 1:
        raise ConnectionError("the gateway is down")
    return order_id


@rq.task(queue="reports", schedule=timedelta(hours=1))
def hourly_digest() -> str:
    digests.append("digest")
    return "digest"


app = FastAPI()
app.add_middleware(RedisQMiddleware, redisq=rq)  # no embedded workers: the tests drain


@app.post("/signup")
async def signup(user_id: int) -> dict[str, str]:
    job = await send_welcome.enqueue(user_id)
    return {"job": job.id, "state": (await job.info()).state.value}


@app.post("/signup-sync")
def signup_sync(user_id: int) -> dict[str, str]:  # FastAPI runs it in its threadpool
    job = send_welcome.delay(user_id)
    return {"job": job.id, "state": job.info_sync().state.value}


# Flask: one extension, a client per app from the app's config (REDISQ_URL, REDISQ_PREFIX from the env).
flask_rq = FlaskRedisQ()
built: list[int] = []


@flask_rq.task("flask-reports")
def build_report(report_id: int) -> int:
    built.append(report_id)
    return report_id


def create_app() -> Flask:
    flask_app = Flask(__name__)
    flask_rq.init_app(flask_app)

    @flask_app.post("/reports/<int:report_id>")
    def order_report(report_id: int) -> tuple[dict[str, int], int]:
        enqueue_after_request(build_report.call(report_id))
        return {"report": report_id}, 202

    @flask_app.post("/reports-now/<int:report_id>")
    def order_report_now(report_id: int) -> dict[str, str]:
        job = build_report.delay(report_id)
        return {"state": job.info_sync().state.value}

    return flask_app
