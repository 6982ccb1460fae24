"""Magic-link sign-in: an email form, a single-use signed link, sign-out that ends every session."""

from .routes import bp

__all__ = ["bp"]
