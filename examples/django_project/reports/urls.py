from django.urls import path

from . import views

urlpatterns = [
    path("", views.start_report, name="start-report"),
    path("<int:report_id>/", views.report_status, name="report-status"),
]
