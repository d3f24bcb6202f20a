"""`MIDDLEWARE = [..., "redisq.django.middleware.RequestContextMiddleware"]`: each job a request enqueues
carries its request id and trace context (redisq/integrations/django/middleware.py)."""

from redisq.integrations.django.middleware import RequestContextMiddleware

__all__ = ["RequestContextMiddleware"]
