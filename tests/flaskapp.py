"""A Flask app built by a factory, as tests serve it (gunicorn) and run its worker (`flask redisq worker`)."""

from __future__ import annotations

import asyncio
import logging
import os

from flask import Flask, Request, current_app, g, jsonify, request

from redisq.flask import Access, RedisQ, enqueue_after_request

redisq = RedisQ()


class Counter:
    """Stands for an extension such as Flask-SQLAlchemy: state kept per app in `app.extensions`."""

    def init_app(self, app: Flask) -> None:
        app.extensions["counter"] = {"label": app.config["COUNTER_LABEL"], "teardowns": 0}

        @app.teardown_appcontext
        def count_teardown(exc: BaseException | None) -> None:
            app.extensions["counter"]["teardowns"] += 1


@redisq.task("reports", retries=2)
def build_report(report_id: int) -> dict[str, object]:
    g.report_id = report_id  # g works: each job has an app context of its own
    logging.getLogger("tests.flaskapp").warning("building report %s", report_id)
    return {
        "report": report_id,
        "app": current_app.name,
        "label": current_app.extensions["counter"]["label"],
        "g": g.report_id,
    }


@redisq.task("reports")
async def summarize(report_id: int) -> str:
    await asyncio.sleep(0.01)
    return f"{current_app.extensions['counter']['label']}:{report_id}"


@redisq.task("reports", retries=1)
def always_fails(report_id: int) -> None:
    raise RuntimeError(f"report {report_id} cannot be built")


def admin_by_header(request: Request) -> Access | None:
    return Access.ADMIN if request.headers.get("x-admin") == "yes" else None


def create_app(name: str = "reports-app", **config: object) -> Flask:
    app = Flask(name)
    app.config.update(COUNTER_LABEL=name, REDISQ_QUEUES="reports")
    app.config.update(config)
    Counter().init_app(app)
    redisq.init_app(app)
    app.register_blueprint(redisq.admin_blueprint(auth=admin_by_header), url_prefix="/queues")

    @app.post("/reports/<int:report_id>")
    def create_report(report_id: int):  # type: ignore[no-untyped-def]
        job = build_report.delay(report_id)
        return jsonify(job=job.id), 202

    @app.post("/after/<int:report_id>")
    def after(report_id: int):  # type: ignore[no-untyped-def]
        enqueue_after_request(build_report.call(report_id))
        status = int(request.args.get("status", "200"))
        if status == 0:
            raise RuntimeError("view failed")
        return jsonify(status=status), status

    return app


app = create_app(
    REDISQ_URL=os.environ.get("REDISQ_URL"), REDISQ_PREFIX=os.environ.get("REDISQ_PREFIX", "redisq")
)
