from django.db import models


class Member(models.Model):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=100)
    joined_at = models.DateTimeField(auto_now_add=True)
    welcomed_at = models.DateTimeField(null=True, blank=True)  # set by the welcome email's job
