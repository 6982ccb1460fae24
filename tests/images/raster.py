"""Turn every format into pixels the way a person's software would, and decode them with zxing-cpp.

PNG: Pillow. SVG: Debian's chromium (many images on one page, one screenshot). PDF: poppler's
pdftoppm. EPS: ghostscript. A tool that is missing skips the test that needs it, saying which.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

TOOLS = {"svg": "chromium", "pdf": "pdftoppm", "eps": "gs"}
TIMEOUT = 120  # seconds for one tool run: bounded, never a hang


def need(fmt: str) -> None:
    """Skip (saying why) when the program that draws `fmt` is not installed."""
    tool = TOOLS.get(fmt)
    if tool and shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed: {fmt} images cannot be drawn here")


def on_white(image: Image.Image, pad: int = 0) -> Image.Image:
    """The image as a viewer shows it on a white page, with `pad` extra white pixels around."""
    rgba = image.convert("RGBA")
    page = Image.new("RGBA", (rgba.width + 2 * pad, rgba.height + 2 * pad), "white")
    page.alpha_composite(rgba, (pad, pad))
    return page.convert("RGB")


def decode(image: Image.Image, pad: int = 0) -> list:
    # Plain text mode: HRI would spell control characters as "<NUL>" and the like.
    return zxingcpp.read_barcodes(
        on_white(image, pad),
        formats=zxingcpp.BarcodeFormat.QRCode,
        text_mode=zxingcpp.TextMode.Plain,
    )


def png_image(body: bytes) -> Image.Image:
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def svg_images(bodies: list[bytes], width: int = 400, scale: float = 1) -> list[Image.Image]:
    """Each SVG as chromium paints it `width` CSS pixels wide (`scale`: device pixels per CSS
    pixel), all on one page so that one browser start draws them all."""
    need("svg")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cell = width + 20
        columns = 4
        rows = -(-len(bodies) // columns)
        tags = []
        for index, body in enumerate(bodies):
            (folder / f"{index}.svg").write_bytes(body)
            x, y = (index % columns) * cell, (index // columns) * cell * 2
            tags.append(
                f'<img src="{index}.svg" style="position:absolute;left:{x}px;top:{y}px;width:{width}px">'
            )
        (folder / "page.html").write_text(
            "<!doctype html><body style='margin:0;background:white'>" + "".join(tags) + "</body>"
        )
        shot = folder / "shot.png"
        subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--force-device-scale-factor={scale}",
                f"--window-size={columns * cell},{rows * cell * 2}",
                f"--screenshot={shot}",
                (folder / "page.html").as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=TIMEOUT,
        )
        page = Image.open(shot).convert("RGB")
        page.load()
    found = []
    for index in range(len(bodies)):
        x, y = (index % columns) * cell, (index // columns) * cell * 2
        found.append(page.crop(tuple(round(v * scale) for v in (x, y, x + width, y + 2 * width))))
    return found


def _drawn_by(fmt: str, body: bytes, command) -> Image.Image:
    """`body` saved as a file, drawn to out.png by `command(source, out)`, read back."""
    need(fmt)
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / f"code.{fmt}", Path(tmp) / "out.png"
        source.write_bytes(body)
        subprocess.run(command(source, out), check=True, capture_output=True, timeout=TIMEOUT)
        image = Image.open(out).convert("RGB")
        image.load()
    return image


def pdf_image(body: bytes, dpi: float = 300) -> Image.Image:
    return _drawn_by(
        "pdf",
        body,
        lambda source, out: ["pdftoppm", "-png", "-r", str(dpi), "-singlefile", source, out.with_suffix("")],
    )


def pdf_pages(body: bytes, dpi: float = 150) -> list[Image.Image]:
    """Every page of a PDF as poppler's pdftoppm draws it, in order."""
    need("pdf")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "sheet.pdf"
        source.write_bytes(body)
        subprocess.run(
            ["pdftoppm", "-png", "-r", str(dpi), source, Path(tmp) / "page"],
            check=True,
            capture_output=True,
            timeout=TIMEOUT,
        )
        # pdftoppm numbers pages with as many digits as the last one needs: sort by number.
        files = sorted(Path(tmp).glob("page-*.png"), key=lambda path: int(path.stem.rsplit("-", 1)[1]))
        pages = [Image.open(path).convert("RGB") for path in files]
        for page in pages:
            page.load()
    return pages


def eps_image(body: bytes, dpi: float = 300) -> Image.Image:
    gs = [
        "gs",
        "-q",
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-dEPSCrop",
        "-dGraphicsAlphaBits=4",
        "-sDEVICE=png16m",
        f"-r{dpi}",
    ]
    return _drawn_by("eps", body, lambda source, out: [*gs, "-o", out, source])


def pdf_page_size(body: bytes) -> tuple[float, float]:
    """The first page's size in points, as poppler's pdfinfo reads it."""
    need("pdf")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "code.pdf"
        source.write_bytes(body)
        out = subprocess.run(
            ["pdfinfo", str(source)], check=True, capture_output=True, text=True, timeout=TIMEOUT
        ).stdout
    line = next(line for line in out.splitlines() if line.startswith("Page size:"))
    words = line.split()
    return float(words[2]), float(words[4])
