"""Assistants: the OpenQR tools over the Model Context Protocol, at `/mcp` and through `flask mcp`."""

from .http import init_app

__all__ = ["init_app"]
