"""QR images through `/v1/qr`: cached and 304 answers against uncached renders, and segno alone."""

from __future__ import annotations

import io
import itertools
import tempfile
from pathlib import Path

import segno

from openqr.images import proof
from openqr.images.render import QrParams, render
from tests.bench.common import alternate_ms, bench_app

STYLED = {
    "dots": "classy-rounded",
    "corners": "extra-rounded",
    "corner_dots": "dot",
    "gradient": {"type": "linear", "to": "#0d47a1", "rotation": 45},
    "frame": {"text": "SCAN ME"},
}
RENDERS = {  # what a row measures: a format, a size and a style
    "png 1024 px, squares": {"format": "png", "size": 1024},
    "png 1024 px, rounded dots": {"format": "png", "size": 1024, "dots": "rounded"},
    "png 1024 px, styled + frame": {"format": "png", "size": 1024, **STYLED},
    "png 4096 px, styled + frame": {"format": "png", "size": 4096, **STYLED},
    "svg 40 mm, styled + frame": {"format": "svg", "size_mm": 40, **STYLED},
    "pdf 40 mm, styled + frame": {"format": "pdf", "size_mm": 40, **STYLED},
    "eps 40 mm, styled + frame": {"format": "eps", "size_mm": 40, **STYLED},
}


def render_rows(quick: bool) -> list[tuple]:
    """Uncached render times per format, size and style, and the proof a saved style costs."""
    fresh = itertools.count()
    repeat = 3 if quick else 7

    def once(options: dict):
        return lambda: render(QrParams(data=f"https://go.example.com/r{next(fresh)}", **options))

    def prove():
        proof.prove(QrParams(data=f"https://go.example.com/p{next(fresh)}", **STYLED))

    calls = {name: once(options) for name, options in RENDERS.items()}
    times = alternate_ms({**calls, "proof": prove}, repeat)
    rows = [(f"render {name}", f"{times[name]:.1f} ms", "", "", None) for name in RENDERS]
    rows.append(("proof of a styled code (render + zxing-cpp)", f"{times['proof']:.1f} ms", "", "", None))
    return rows


def run(quick: bool) -> list[tuple]:
    repeat = 15 if quick else 40
    with tempfile.TemporaryDirectory() as tmp, bench_app(Path(tmp)) as (app, auth):
        client = app.test_client()
        fresh = itertools.count()
        cached_url = "/v1/qr?data=https%3A%2F%2Fgo.example.com%2Fk7Pm2qR&format=png&size=1024"
        first = client.get(cached_url, headers=auth)
        etag = first.headers["ETag"]

        def uncached():
            # Fresh data every time misses the cache; clearing the cache here would also
            # evict the repeated image and make the "cached" figure measure a render.
            url = f"/v1/qr?data=https%3A%2F%2Fgo.example.com%2F{next(fresh)}&format=png&size=1024"
            assert client.get(url, headers=auth).status_code == 200

        def cached():
            assert client.get(cached_url, headers=auth).status_code == 200

        def not_modified():
            assert client.get(cached_url, headers={**auth, "If-None-Match": etag}).status_code == 304

        def segno_alone():
            code = segno.make(f"https://go.example.com/s{next(fresh)}", error="m")
            code.save(io.BytesIO(), kind="png", scale=1024 // (code.symbol_size()[0]))

        times = alternate_ms(
            {"uncached": uncached, "cached": cached, "304": not_modified, "segno": segno_alone}, repeat
        )
    speedup = times["uncached"] / times["cached"]
    return [
        *render_rows(quick),
        (
            "/v1/qr 1024 px PNG, uncached",
            f"{times['uncached']:.2f} ms",
            "<= 10 ms",
            f"{times['uncached'] / times['segno']:.2f}x segno",
            times["uncached"] <= 10,
        ),
        ("segno make + save PNG alone", f"{times['segno']:.2f} ms", "", "", None),
        (
            "/v1/qr repeated (cache)",
            f"{times['cached']:.2f} ms",
            ">= 5x uncached",
            f"{speedup:.1f}x",
            speedup >= 5,
        ),
        (
            "/v1/qr If-None-Match (304)",
            f"{times['304']:.2f} ms",
            ">= 5x uncached",
            f"{times['uncached'] / times['304']:.1f}x",
            times["uncached"] / times["304"] >= 5,
        ),
    ]
