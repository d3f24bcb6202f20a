"""Thin adapters from web frameworks to the core: they map HTTP to core calls and core errors to statuses."""
