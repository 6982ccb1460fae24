"""The QR symbol itself: the modules segno makes of the data, before any drawing."""

from __future__ import annotations

from functools import lru_cache

import segno

_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def mode_of(data: str) -> str:
    """The QR encoding mode that holds `data` most compactly: numeric, alphanumeric or byte."""
    if data.isascii() and data.isdigit():
        return "numeric"
    if all(c in _ALPHANUMERIC for c in data):
        return "alphanumeric"
    return "byte"


@lru_cache(maxsize=256)
def encode(data: str, ecc: str) -> segno.QRCode:
    """The symbol of `data` at level `ecc`; raises segno.DataOverflowError when it does not fit."""
    # Non-ASCII text goes as UTF-8 bytes with the mode forced: left to itself segno
    # picks Latin-1 or Shift_JIS (misread by scanners that guess UTF-8), or kanji
    # mode when UTF-8 bytes happen to look like Shift_JIS.
    return segno.make_qr(data, error=ecc, boost_error=False, mode=mode_of(data), encoding="utf-8")
