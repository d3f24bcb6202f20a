"""The Flask example from a checkout: `flask --app examples.flask_app run` (and `... redisq worker`).

The app itself is `redisq/examples/flask_app.py`, so that it ships with the package.
"""

from redisq.examples.flask_app import app, create_app, redisq

__all__ = ["app", "create_app", "redisq"]
