from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_POST

from redisq import JobNotFound
from redisq.django import client, enqueue_on_commit

from .models import Report
from .tasks import build_report


@login_required
@require_POST
def start_report(request: HttpRequest) -> JsonResponse:
    with transaction.atomic():
        report = Report.objects.create(title=request.POST.get("title", "Sales")[:80])
        enqueue_on_commit(build_report.call(report.pk))
    return JsonResponse({"report": report.pk}, status=201)


@login_required
def report_status(request: HttpRequest, report_id: int) -> JsonResponse:
    """The report's row, and while it builds, its job's progress (`{"value": 0.4, "note": "page 2 of 5"}`)."""
    report = get_object_or_404(Report, pk=report_id)
    body: dict[str, object] = {"status": report.status, "rows": report.rows, "job": report.job_id or None}
    if report.job_id:
        try:
            info = client().job(report.job_id).info_sync()
        except JobNotFound:  # its record expired: the row says how it ended
            pass
        else:
            body["state"] = info.state.value
            body["progress"] = info.progress
    return JsonResponse(body)
