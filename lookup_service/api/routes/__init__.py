"""Routers: identity lookups, opt-out, health."""
