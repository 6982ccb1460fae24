"""The limits pages show, read from the rule modules that enforce them (a context processor).

A template writes `{{ limits.split_max }}`, never `5`: a bound changed in its rule module changes
the page with it. Registered for the whole app, so the sign-in pages read it too.
"""

from __future__ import annotations

from ..auth import tokens
from ..codes import core as codes
from ..codes import filters, smart
from ..images import render as qr
from .base import bp


@bp.app_context_processor
def limits() -> dict:
    """`limits` for every template, read from the rule modules at each render."""
    return {
        "limits": {
            "filter_max": filters.MAX_FILTER_LENGTH,
            "random_slug_length": codes.RANDOM_SLUG_LENGTH,
            "bulk_max": codes.MAX_BULK,
            "margin_min": qr.MARGIN_MIN,
            "margin_max": qr.MARGIN_MAX,
            "split_min": smart.MIN_SPLIT,
            "split_max": smart.MAX_SPLIT,
            "weight_min": smart.MIN_WEIGHT,
            "weight_max": smart.MAX_WEIGHT,
            "max_scans_min": smart.MIN_SCANS,
            "max_scans_max": smart.MAX_SCANS_LIMIT,
            "utm_max": smart.MAX_UTM_LENGTH,
            "link_minutes": tokens.MAX_AGE // 60,
        }
    }
