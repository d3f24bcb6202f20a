"""Runnable examples: `uvicorn examples.fastapi_app:app` from a checkout."""
