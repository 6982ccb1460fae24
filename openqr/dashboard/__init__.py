"""The HTMX dashboard: codes, a code's page, bulk, the Generator of static codes, folders, API keys and
webhooks, for a signed-in person."""

from . import bulk, code_page, codes, generator, limits, overview, settings, webhooks  # noqa: F401  (each adds to bp)
from .base import bp

__all__ = ["bp"]
