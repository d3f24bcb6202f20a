"""The framework-free admin layer: what the `/queues` API does and who may use it.

Every adapter (`integrations/asgi`, `integrations/fastapi`, `integrations/flask`) and the dashboard use
these modules; none of them imports a web framework, so dependencies point down (core <- admin <- adapters
and dashboard) and a new adapter only maps HTTP to them:

- `actions`   validation of client input and the handlers, calling the core
- `payloads`  the JSON shapes (TypedDicts) and how core values become them
- `errors`    the one table from exceptions to HTTP statuses and JSON bodies
- `access`    access levels, the auth contract and the cross-site rule
"""
