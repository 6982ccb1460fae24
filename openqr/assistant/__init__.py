"""Assistants: the OpenQR tools over the Model Context Protocol, at `/mcp` and through `flask mcp`."""

from .http import init_app, warn_shadowed_slug

__all__ = ["init_app", "warn_shadowed_slug"]
