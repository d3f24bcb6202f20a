"""A small shop with background jobs: a signup whose welcome email waits for the commit, reports that show
their progress, and the queues' dashboard at /ops/queues/ for staff.

    REDISQ_URL=redis://localhost:6379/0 python manage.py migrate
    REDISQ_URL=redis://localhost:6379/0 python manage.py runserver
    REDISQ_URL=redis://localhost:6379/0 python manage.py redisq worker

Without REDISQ_URL each process starts an embedded Redis of its own (fine for one process, not for a site
and its worker). SHOP_DB is the SQLite file (default: db.sqlite3 here); SHOP_MAIL_DIR, where the file email
backend writes the emails (default: sent-mail/ here).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("SHOP_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("SHOP_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "redisq.django",  # before django.contrib.admin: its admin index links to the dashboard
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "accounts",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "redisq.django.middleware.RequestContextMiddleware",  # the request id travels with each job
]

ROOT_URLCONF = "shop.urls"
LOGIN_URL = "/admin/login/"  # where the dashboard sends a browser that is not logged in

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

WSGI_APPLICATION = "shop.wsgi.application"
ASGI_APPLICATION = "shop.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SHOP_DB", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {"timeout": 20},  # the site and the worker write to the same file
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ.get("SHOP_MAIL_DIR", str(BASE_DIR / "sent-mail"))
DEFAULT_FROM_EMAIL = "shop@example.com"

STATIC_URL = "static/"
USE_TZ = True
TIME_ZONE = "UTC"  # Django sets the process time zone from it: the worker's log times too

REDISQ = {
    # "URL": "redis://localhost:6379/0",  # else REDISQ_URL / REDIS_URL, else an embedded Redis
    "QUEUES": ["emails", "reports"],  # what `manage.py redisq worker` serves, highest priority first
    "CONCURRENCY": 4,
}
