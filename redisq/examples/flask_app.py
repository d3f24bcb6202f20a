"""A Flask app with background jobs: a report form, a page that follows the report, a flaky sync task.

    flask --app redisq.examples.flask_app run              # the site (REDISQ_URL, else an embedded Redis
    flask --app redisq.examples.flask_app redisq worker    #  per process: set REDISQ_URL to share one)

The admin API is at /queues; it needs `Authorization: Bearer $ADMIN_TOKEN` (a random token is made and
logged at startup if ADMIN_TOKEN is not set). /health answers load balancers.
"""

from __future__ import annotations

import logging
import os
import secrets
import time

from flask import Flask, Request, abort, current_app, redirect, render_template_string, request, url_for

from redisq import Backoff, JobNotFound
from redisq.flask import Access, RedisQ, enqueue_after_request

log = logging.getLogger(__name__)
redisq = RedisQ()


@redisq.task("reports", retries=2, timeout=60)
def build_report(title: str, pages: int) -> dict[str, object]:
    """A blocking job (plain def: it runs in the worker's thread pool) that reports its progress."""
    for page in range(1, pages + 1):
        time.sleep(0.2)  # stands for rendering one page
        redisq.client.set_progress_sync(page / pages, f"page {page} of {pages}")
    return {"title": title, "pages": pages, "by": current_app.name}


@redisq.task("sync", retries=4, backoff=Backoff.exponential(base_s=0.5, cap_s=5))
def sync_inventory(attempts_to_fail: int) -> str:
    """A partner API that fails now and then: retried with backoff, visible in /queues meanwhile."""
    from redisq import current_job

    job = current_job.get()
    if job is not None and job.attempt <= attempts_to_fail:
        raise ConnectionError(f"partner API timed out (attempt {job.attempt})")
    return "inventory synced"


@redisq.task("emails")
def send_receipt(report_title: str) -> None:
    log.info("receipt sent for %s", report_title)


FORM = """<!doctype html><title>Reports</title>
<h1>Build a report</h1>
<form method=post action="{{ url_for('create_report') }}">
  <label>Title <input name=title required maxlength=80></label>
  <label>Pages <input name=pages type=number min=1 max=50 value=5></label>
  <button>Build</button>
</form>"""

REPORT = """<!doctype html><title>Report</title>
{% if info.state.value in ('queued', 'scheduled', 'active') %}<meta http-equiv=refresh content=1>{% endif %}
<h1>Report {{ job_id }}</h1>
<p>State: <b>{{ info.state.value }}</b> (attempt {{ info.attempts }} of {{ info.max_attempts }})</p>
{% if info.progress %}
  <p><progress value="{{ info.progress.value }}"></progress> {{ info.progress.note }}</p>
{% endif %}
{% if info.result %}<pre>{{ info.result | tojson }}</pre>{% endif %}
{% if info.error %}<pre>{{ info.error.type }}: {{ info.error.message }}</pre>{% endif %}
<p><a href="{{ url_for('index') }}">Another one</a></p>"""


def create_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(REDISQ_QUEUES="reports,emails,sync")
    app.config.update(config)
    redisq.init_app(app)  # /health comes with it
    token = os.environ.get("ADMIN_TOKEN") or secrets.token_urlsafe(16)
    if "ADMIN_TOKEN" not in os.environ:
        log.warning("admin API token for this process: %s", token)

    def admin_only(req: Request) -> Access | None:
        given = req.headers.get("Authorization", "").removeprefix("Bearer ")
        return Access.ADMIN if secrets.compare_digest(given, token) else None

    app.register_blueprint(redisq.admin_blueprint(auth=admin_only), url_prefix="/queues")

    @app.get("/")
    def index() -> str:
        return render_template_string(FORM)

    @app.post("/reports")
    def create_report():  # type: ignore[no-untyped-def]
        title = request.form.get("title", "").strip()[:80] or abort(400)
        pages = min(max(request.form.get("pages", 5, type=int), 1), 50)
        job = build_report.delay(title, pages)
        enqueue_after_request(send_receipt.call(title))  # only if this request succeeds
        return redirect(url_for("show_report", job_id=job.id), code=303)

    @app.get("/reports/<job_id>")
    def show_report(job_id: str) -> str:
        try:
            info = redisq.client.job(job_id).info_sync()
        except (JobNotFound, ValueError):
            abort(404)
        return render_template_string(REPORT, job_id=job_id, info=info)

    @app.post("/inventory/sync")
    def start_sync():  # type: ignore[no-untyped-def]
        job = sync_inventory.delay(int(request.args.get("fail", 2)))
        return {"job": job.id}, 202

    return app


app = create_app()
