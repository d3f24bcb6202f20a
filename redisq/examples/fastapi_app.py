"""A small shop on FastAPI with background jobs on redisq: welcome emails, image resizing, webhooks.

Run it (`redisq demo` serves this same app and sends it some traffic):

    pip install 'redisq[fastapi]'
    uvicorn examples.fastapi_app:app            # from a checkout
    uvicorn redisq.examples.fastapi_app:app     # from anywhere

Environment:

    REDISQ_URL             redis://host:6379/0. Unset: an embedded throwaway Redis, fine for one process only.
    ADMIN_TOKEN            the bearer token of the /queues admin API. Unset: a random one, logged at startup
                           (it changes on every start and differs between `uvicorn --workers` processes).
    WEBHOOK_RETRY_BASE_S   first retry delay of a webhook delivery, doubled on each attempt (default 2).
    AUTOSCALER_TOKEN       a bearer token with read access only, for an autoscaler's poll of
                           /queues/<queue>/backlog (examples/k8s/: KEDA). Unset: none.
    EMBEDDED_WORKERS       workers inside each web process (default 1; 0 when a worker Deployment runs them).

The tasks log through `logging`; give a handler `redisq.LogContext` and a format with `%(job_id)s` and
`%(request_id)s`, and each line names its job and the request that enqueued it (`redisq demo` does).

Try it:

    curl -X POST localhost:8000/signup -H 'content-type: application/json' -d '{"email": "ada@example.com"}'
    curl localhost:8000/jobs/<job id>
    curl -H "Authorization: Bearer $ADMIN_TOKEN" localhost:8000/queues/
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Cookie, Depends, FastAPI, HTTPException
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from redisq import Backoff, InvalidJobId, JobNotFound, RedisQ, current_job
from redisq.fastapi import Access, RedisQMiddleware, admin_router, enqueue_after_response, health_router

log = logging.getLogger(__name__)

rq = RedisQ()  # nothing connects here: the middleware connects at startup

ADMIN_TOKEN = os.environ.get("ADMIN_TOKEN") or secrets.token_urlsafe(18)
RETRY_BASE_S = float(os.environ.get("WEBHOOK_RETRY_BASE_S", "2"))
AUTOSCALER_TOKEN = os.environ.get("AUTOSCALER_TOKEN")
EMBEDDED_WORKERS = int(os.environ.get("EMBEDDED_WORKERS", "1"))

# Two simulated subscribers of our webhooks: one is down for two attempts and then answers, the other is gone
# for good, so its deliveries end in the dead letters (GET /queues/webhooks/jobs?state=dead).
FLAKY_SUBSCRIBER = "https://partner.example/hooks/orders"
GONE_SUBSCRIBER = "https://retired.example/hooks"
SUBSCRIBERS = (FLAKY_SUBSCRIBER, GONE_SUBSCRIBER)


# ---- tasks: registered at import, so a standalone worker (`redisq worker module:rq`) knows them too ----


@rq.task(queue="emails", retries=5, timeout=30)
async def send_welcome_email(email: str) -> str:
    await asyncio.sleep(0.2)  # stands in for a call to an email API
    # With redisq.LogContext on the handler, this line carries the job id and the signup's request id.
    log.info("sent the welcome email to %s", email)
    return f"welcome email sent to {email}"


def resize_step(name: str, step: str) -> None:
    time.sleep(0.25)  # stands in for CPU work on the image (Pillow and the like)


@rq.task(queue="images", retries=1, timeout=120)
async def resize_image(name: str, width: int) -> dict[str, Any]:
    # Progress goes to the job's record, where GET /jobs/{id} shows it while the job runs.
    steps = ("downloading", "decoding", "resizing", "encoding", "uploading")
    for done, step in enumerate(steps):
        await rq.set_progress(done / len(steps), step)
        # CPU work in a thread: on the event loop it would stall the web requests that share it. (A plain
        # `def` task runs in the worker's thread pool as a whole, and reports with rq.set_progress_sync.)
        await asyncio.to_thread(resize_step, name, step)
    await rq.set_progress(1.0, "done")
    stem, dot, ext = name.rpartition(".")
    return {"image": f"{stem}-{width}w{dot}{ext}" if dot else f"{name}-{width}w", "width": width}


class DeliveryFailed(Exception):
    """A subscriber did not accept a webhook. Raising it makes redisq retry the job after a backoff."""


def simulated_post(url: str, attempt: int) -> int:
    """The status a subscriber answers; a real app would `await httpx.AsyncClient().post(url, json=...)`."""
    if url == GONE_SUBSCRIBER or (url == FLAKY_SUBSCRIBER and attempt <= 2):
        return 503
    return 200


# Exponential backoff with jitter, so that many failed deliveries do not all come back at the same moment.
@rq.task(queue="webhooks", retries=3, timeout=15, backoff=Backoff.exponential(base_s=RETRY_BASE_S, cap_s=600))
async def deliver_webhook(url: str, event: dict[str, Any]) -> dict[str, Any]:
    job = current_job.get()
    attempt = job.attempt if job is not None else 1
    await asyncio.sleep(0.05)  # the round trip to the subscriber
    status = simulated_post(url, attempt)
    if status >= 500:
        raise DeliveryFailed(f"{url} answered {status} on attempt {attempt}")
    return {"url": url, "status": status, "attempt": attempt}


# ---- the admin API's access: a bearer token, or a cookie for the dashboard in a browser ----

# auto_error=False: a request without the header reaches require_admin, which refuses it; the admin API
# then answers 401 in its own JSON shape. Declaring the scheme also puts an "Authorize" button in /docs.
bearer = HTTPBearer(auto_error=False, description="the ADMIN_TOKEN of this app")
SESSION_COOKIE = "admin_session"


def is_admin_token(given: str | None) -> bool:
    # compare_digest: the time taken does not tell an attacker how much of a guess was right
    return given is not None and secrets.compare_digest(given.encode(), ADMIN_TOKEN.encode())


async def require_admin(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> Access | bool:
    # A browser cannot put a header on the dashboard's event stream: it sends the cookie that /login set.
    given = credentials.credentials if credentials else None
    if is_admin_token(given) or is_admin_token(session):
        return True
    # An autoscaler reads the backlog and nothing else: read access, never the admin token.
    if (
        AUTOSCALER_TOKEN
        and given is not None
        and secrets.compare_digest(given.encode(), AUTOSCALER_TOKEN.encode())
    ):
        return Access.READ
    return False


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    if "ADMIN_TOKEN" not in os.environ:
        log.warning("ADMIN_TOKEN is not set; the /queues API takes this token until restart: %s", ADMIN_TOKEN)
    yield


# ---- the app ----

app = FastAPI(title="redisq example shop", lifespan=lifespan)
# One worker in this process, started and drained by the lifespan. To run workers apart from the web
# processes instead: workers=0 here, and `redisq worker redisq.examples.fastapi_app:rq` (REDISQ_URL set).
app.add_middleware(RedisQMiddleware, redisq=rq, workers=EMBEDDED_WORKERS)
app.include_router(admin_router(rq, auth=require_admin), prefix="/queues", tags=["queues"])
app.include_router(health_router(rq), prefix="/health")  # /health (readiness, 200 or 503), /health/live


@app.get("/login", include_in_schema=False)
async def login(token: str) -> Response:
    """Open the dashboard in a browser: `/login?token=...` (what `redisq demo` prints). A real app logs
    people in its own way; the cookie is HttpOnly and SameSite=Strict, and the admin API refuses
    cross-site writes anyway. Behind HTTPS, add secure=True."""
    if not is_admin_token(token):
        raise HTTPException(status_code=403, detail="wrong token")
    response = RedirectResponse("queues/", status_code=303)
    response.set_cookie(SESSION_COOKIE, token, path="/queues", httponly=True, samesite="strict")
    return response


class Signup(BaseModel):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class Resize(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    width: int = Field(gt=0, le=10_000)


@app.post("/signup", status_code=202)
async def signup(body: Signup) -> dict[str, str]:
    # ... store the new user here ...
    # The email is sent by the worker, not in the request: a slow or failing email API neither delays the
    # signup nor loses the email (it is retried). The job keeps this request's X-Request-ID.
    job = await send_welcome_email.enqueue(body.email)
    return {"job": job.id}


@app.post("/images/resize", status_code=202)
async def resize(body: Resize) -> dict[str, str]:
    job = await resize_image.enqueue(body.name, body.width)
    return {"job": job.id, "status": f"/jobs/{job.id}"}


@app.get("/jobs/{job_id}")
async def job_status(job_id: str) -> dict[str, Any]:
    """A job's state, progress and outcome, for the client that started it to poll.

    Job ids are random, so knowing one is some protection; a real app would also check that the job
    belongs to the user asking.
    """
    try:
        info = await rq.job(job_id).info()
    except (InvalidJobId, JobNotFound):
        raise HTTPException(404, "no such job, or its record expired") from None
    return {
        "id": info.id,
        "state": info.state,
        "attempts": info.attempts,
        "progress": info.progress,
        "result": info.result,
        "error": f"{info.error.type}: {info.error.message}" if info.error else None,
    }


@app.post("/orders/{order_id}/ship")
async def ship_order(order_id: int) -> dict[str, Any]:
    if order_id <= 0:
        raise HTTPException(404, "no such order")  # an error response: no webhook goes out
    # ... mark the order shipped here ...
    # After the response: the webhooks are stored only if this handler succeeds, and before the client
    # hears of the success, so a shipped order always has its events on the way.
    event = {"type": "order.shipped", "order": order_id}
    enqueue_after_response(deliver_webhook.call(url, event) for url in SUBSCRIBERS)
    return {"order": order_id, "status": "shipped"}
