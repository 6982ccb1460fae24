"""Short-link look-up for the redirect: slug -> (code id, destination, status).

Every change to a code's slug, destination, status or existence calls `changed()`,
so whatever the look-up keeps is never stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from .extensions import db
from .models import Code


@dataclass(frozen=True)
class Link:
    code_id: str
    destination: str
    status: str


def resolve(slug: str) -> Link | None:
    """The link a slug currently points to, or None."""
    row = db.session.execute(
        select(Code.id, Code.destination, Code.status).where(Code.slug == slug)
    ).first()
    return Link(*row) if row else None


def changed(*slugs: str) -> None:
    """Called after a commit that changed what these slugs resolve to."""
