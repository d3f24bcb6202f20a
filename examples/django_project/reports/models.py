from django.db import models


class Report(models.Model):
    title = models.CharField(max_length=80)
    pages = models.PositiveIntegerField(default=5)
    status = models.CharField(max_length=10, default="waiting")  # waiting, building, done
    job_id = models.CharField(max_length=100, blank=True)  # written by the job as it starts
    rows = models.PositiveIntegerField(null=True, blank=True)
