"""The FastAPI example, runnable from a checkout: `uvicorn examples.fastapi_app:app`.

The app itself is `redisq/examples/fastapi_app.py`: it lives in the package because `examples/` is not
part of an installed redisq, and `redisq demo` serves the same app from any installation.
"""

from redisq.examples.fastapi_app import app, rq

__all__ = ["app", "rq"]
