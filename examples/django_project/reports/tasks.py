import asyncio

from redisq import current_job
from redisq.django import client, task

from .models import Report


@task(queue="reports", timeout=300)
async def build_report(report_id: int) -> dict[str, object]:
    """An async def task: it runs on the worker's event loop, so it uses the ORM's async methods (aget,
    asave), which Django runs in its thread for sync code; a plain ORM call here would raise
    SynchronousOnlyOperation."""
    report = await Report.objects.aget(pk=report_id)
    job = current_job.get()
    report.status, report.job_id = "building", job.id if job else ""
    await report.asave(update_fields=["status", "job_id"])
    for page in range(1, report.pages + 1):
        await asyncio.sleep(0.2)  # stands for rendering one page
        await client().set_progress(page / report.pages, f"page {page} of {report.pages}")
    report.status, report.rows = "done", 25 * report.pages
    await report.asave(update_fields=["status", "rows"])
    return {"title": report.title, "rows": report.rows}
