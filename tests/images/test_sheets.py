"""Print sheets over the API: every code on every page decodes to its short URL, labels in any
script are real text in an embedded font, long ones are shortened inside their cell, and every
refusal is a 400 (or 404) naming the field."""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from openqr.auth.accounts import get_or_create_account
from openqr.images import sheet as rules
from openqr.services import services
from tests.conftest import Api, close_app, fresh_app, new_key
from tests.images.raster import TIMEOUT, decode, need, pdf_page_size, pdf_pages

STYLES = [
    {},
    {"dots": "rounded", "corners": "extra-rounded", "corner_dots": "dot"},
    {"dots": "dots", "gradient": {"type": "radial", "to": "#b71c1c"}},
    {"dots": "classy-rounded", "gradient": {"type": "linear", "to": "#0d47a1", "rotation": 45}},
    {"frame": {"text": "SCAN ME"}, "corner_color": "#1b5e20"},
]
SCRIPTS = ["Café Olé", "Ωμέγα τραπέζι", "Привет мир"]


def bulk(api, count: int, **fields) -> list[dict]:
    """`count` codes made in one request, in order, with labels "Item 1".. unless given."""
    items = [
        {"destination": f"https://example.com/{i}", "label": f"Item {i + 1}", **fields} for i in range(count)
    ]
    response = api.post("/v1/dynamic/bulk", json={"codes": items})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["codes"]


def sheet_of(api, **body):
    response = api.post("/v1/sheets", json=body)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/pdf"
    return response


def poppler(tool: str, body: bytes, *args: str) -> str:
    """The output of one of poppler's tools (pdftotext, pdffonts, pdfinfo) on a PDF."""
    need("pdf")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "sheet.pdf"
        source.write_bytes(body)
        done = subprocess.run(
            [tool, *args, str(source), "-"] if tool == "pdftotext" else [tool, *args, str(source)],
            check=True,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    return done.stdout


def page_count(body: bytes) -> int:
    return int(re.search(r"^Pages:\s+(\d+)$", poppler("pdfinfo", body), re.MULTILINE).group(1))


def decoded_pages(body: bytes, dpi: int = 150) -> list[list[str]]:
    return [sorted(result.text for result in decode(page)) for page in pdf_pages(body, dpi)]


def test_every_code_on_every_page_decodes_to_its_short_url(api):
    items = [{"destination": f"https://example.com/{i}", "style": STYLES[i % len(STYLES)]} for i in range(27)]
    codes = api.post("/v1/dynamic/bulk", json={"codes": items}).get_json()["codes"]
    response = sheet_of(api, codes=[code["id"] for code in codes], columns=3, rows=8)
    assert response.headers["Content-Disposition"] == 'attachment; filename="openqr-sheet.pdf"'
    assert response.headers["Cache-Control"] == "no-store"
    assert pdf_page_size(response.data) == pytest.approx((595.276, 841.89), abs=0.01)  # A4
    pages = decoded_pages(response.data)
    assert [len(found) for found in pages] == [24, 3]
    assert sorted(text for found in pages for text in found) == sorted(code["short_url"] for code in codes)


@pytest.mark.parametrize("style", STYLES, ids=["squares", "rounded", "dots", "classy-gradient", "frame"])
def test_styled_codes_in_the_smallest_cells_still_decode(api, style):
    codes = bulk(api, 12, style=style)
    body = sheet_of(api, codes=[code["id"] for code in codes], paper="letter", columns=6, rows=10).data
    assert pdf_page_size(body) == pytest.approx((612, 792), abs=0.01)
    assert decoded_pages(body, dpi=200) == [sorted(code["short_url"] for code in codes)]


def test_labels_in_latin_greek_and_cyrillic_are_text_in_an_embedded_font(api):
    codes = [api.create(label=text) for text in SCRIPTS]
    body = sheet_of(api, codes=[code["id"] for code in codes]).data
    text = poppler("pdftotext", body)
    assert all(label in text for label in SCRIPTS), text  # copied back exactly as written
    fonts = poppler("pdffonts", body).splitlines()[2:]
    assert len(fonts) == 1
    name, *_rest = fonts[0].split()
    assert re.fullmatch(r"[A-Z]{6}\+DejaVuSans-Bold", name)  # a subset, named as PDF names them
    assert fonts[0].split()[-5:-2] == ["yes", "yes", "yes"]  # embedded, subset, with its Unicode map
    # Drawn, not only there to copy: the band under each code has ink where its label is.
    (page,) = pdf_pages(body, 150)
    grey = page.convert("L")
    for code_index in range(3):
        box = _label_box(body, SCRIPTS[code_index], dpi=150)
        assert grey.crop(box).getextrema()[0] < 100, SCRIPTS[code_index]


def _words(body: bytes) -> list[dict]:
    """Each word pdftotext finds, with its box in points (y from the top of the page)."""
    out = poppler("pdftotext", body, "-bbox")
    found = []
    for match in re.finditer(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', out
    ):
        x0, y0, x1, y1 = (float(v) for v in match.groups()[:4])
        found.append({"box": (x0, y0, x1, y1), "text": match.group(5)})
    return found


def _label_box(body: bytes, text: str, dpi: int) -> tuple[int, int, int, int]:
    words = text.split()
    boxes = [word["box"] for word in _words(body) if word["text"] in words]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    scale = dpi / 72
    return (math.floor(x0 * scale), math.floor(y0 * scale), math.ceil(x1 * scale), math.ceil(y1 * scale))


def test_a_label_wider_than_its_cell_is_shortened_with_an_ellipsis_inside_it(api):
    long = "Ωμέγα " + "Спасибо за визит в наше кафе " * 5
    code = api.create(label=long)
    short = api.create(label="Table 12")
    body = sheet_of(api, codes=[code["id"], short["id"]], columns=3).data
    text = poppler("pdftotext", body)
    shown = next(line for line in text.splitlines() if line.startswith("Ωμέγα"))
    assert shown.endswith("…") and len(shown) < len(long)
    assert long.startswith(shown[:-1])
    assert "Table 12" in text  # a short label is left whole
    cell = (210 - 2 * rules.PAGE_MARGIN_MM) / 3 * 72 / 25.4
    left = rules.PAGE_MARGIN_MM * 72 / 25.4
    boxes = [word["box"] for word in _words(body) if word["box"][2] < left + cell + 1]
    assert boxes and min(b[0] for b in boxes) >= left and max(b[2] for b in boxes) <= left + cell


@pytest.mark.parametrize(
    ("count", "layout", "pages"), [(1, {}, 1), (24, {}, 1), (25, {}, 2), (9, {"columns": 2, "rows": 2}, 3)]
)
def test_as_many_pages_as_the_codes_need(api, count, layout, pages):
    codes = bulk(api, count)
    body = sheet_of(api, codes=[code["id"] for code in codes], **layout).data
    assert page_count(body) == pages


def test_a_folder_prints_oldest_first_and_a_tag_prints_its_codes(api):
    folder = api.post("/v1/folders", json={"name": "Tables"}).get_json()
    codes = bulk(api, 4, folder_id=folder["id"], tags=["Print Run"])
    api.create(label="Elsewhere")
    text = poppler("pdftotext", sheet_of(api, folder_id=folder["id"], columns=1, rows=10).data)
    assert [line for line in text.splitlines() if line.strip()] == ["Item 1", "Item 2", "Item 3", "Item 4"]
    tagged = sheet_of(api, tag="  print   RUN ", label="slug").data  # folded as stored tags are
    assert decoded_pages(tagged) == [sorted(code["short_url"] for code in codes)]
    assert sorted(line for line in poppler("pdftotext", tagged).splitlines() if line.strip()) == sorted(
        code["slug"] for code in codes
    )


def test_label_none_prints_no_text_and_a_code_without_label_shows_its_slug(api):
    bare = api.create()
    both = sheet_of(api, codes=[bare["id"]]).data
    assert poppler("pdftotext", both).split() == [bare["slug"]]
    plain = sheet_of(api, codes=[bare["id"]], label="none").data
    assert poppler("pdftotext", plain).split() == []
    assert len(poppler("pdffonts", plain).splitlines()) == 2  # the header alone: no font needed


def test_size_mm_is_the_printed_width_of_each_code(api):
    code = api.create(style={"margin": 0})
    body = sheet_of(api, codes=[code["id"]], size_mm=30, columns=1, rows=1).data
    (page,) = pdf_pages(body, 200)
    (found,) = decode(page)
    corners = found.position
    width_px = corners.top_right.x - corners.top_left.x
    # zxing reports the centres of the outer modules: the width less one module (25 modules across).
    module = 30 / 25.4 * 200 / 25
    assert width_px == pytest.approx(30 / 25.4 * 200 - module, abs=module)


def test_the_same_request_gives_the_same_bytes_without_dates(api):
    codes = bulk(api, 3, style=STYLES[4])
    first = sheet_of(api, codes=[code["id"] for code in codes])
    again = sheet_of(api, codes=[code["id"] for code in codes])
    assert first.data == again.data and first.headers["ETag"] == again.headers["ETag"]
    assert b"CreationDate" not in first.data and b"/ID" not in first.data
    other = sheet_of(api, codes=[code["id"] for code in codes], rows=7)
    assert other.data != first.data


def _largest_a4_3x8_framed() -> int:
    width = (210 - 2 * rules.PAGE_MARGIN_MM) / 3 - 2 * rules.CELL_PADDING_MM
    height = (297 - 2 * rules.PAGE_MARGIN_MM) / 8 - 2 * rules.CELL_PADDING_MM - rules.Options().label_mm()
    return math.floor(min(width, height / (1.25 / 1.16)))


@pytest.mark.parametrize(
    ("body", "field", "said"),
    [
        ({}, "codes", "exactly one of codes"),
        ({"codes": ["x"], "folder_id": "y"}, "folder_id", "codes and folder_id"),
        ({"codes": "abc"}, "codes", "list of code ids"),
        ({"codes": [1, 2]}, "codes", "list of code ids"),
        ({"codes": []}, "codes", "1 to 500 codes"),
        ({"codes": ["x"] * 501}, "codes", "1 to 500 codes; this one has 501"),
        ({"tag": ""}, "tag", "blank"),
        ({"tag": "x" * 41}, "tag", "at most 40"),
        ({"ID": "paper", "paper": "a3"}, "paper", "a4, letter"),
        ({"ID": "columns", "columns": 0}, "columns", "from 1 to 6"),
        ({"ID": "columns", "columns": 7}, "columns", "from 1 to 6"),
        ({"ID": "columns", "columns": "three"}, "columns", "whole number"),
        ({"ID": "columns", "columns": 2.5}, "columns", "from 1 to 6"),
        ({"ID": "rows", "rows": 11}, "rows", "from 1 to 10"),
        ({"ID": "label", "label": "title"}, "label", "label, slug, none"),
        ({"ID": "size_mm", "size_mm": 9}, "size_mm", "from 10 to 1000"),
        ({"ID": "size_mm", "size_mm": 150}, "size_mm", f"from 10 to {_largest_a4_3x8_framed()}"),
        ({"ID": "size_mm", "size_mm": True}, "size_mm", "whole number"),
        ({"ID": "unknown", "colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_every_refusal_is_a_400_naming_the_field(api, body, field, said):
    code = api.create(style={"frame": {"text": "SCAN ME"}})
    if body.pop("ID", None):  # the layout's checks: with a real code to print
        body = {"codes": [code["id"]], **body}
    response = api.post("/v1/sheets", json=body)
    assert response.status_code == 400, response.get_json()
    answer = response.get_json()
    assert answer["field"] == field and said in answer["message"], answer


def test_the_largest_size_that_fits_is_accepted_and_is_the_default(api):
    code = api.create(style={"frame": {"text": "SCAN ME"}})
    largest = _largest_a4_3x8_framed()
    assert api.post("/v1/sheets", json={"codes": [code["id"]], "size_mm": largest}).status_code == 200
    refused = api.post("/v1/sheets", json={"codes": [code["id"]], "size_mm": largest + 1})
    assert refused.status_code == 400 and f"{largest} mm is the largest" in refused.get_json()["message"]
    default = sheet_of(api, codes=[code["id"]]).data
    assert default == sheet_of(api, codes=[code["id"]], size_mm=largest).data


def test_bodies_that_are_not_json_objects(api):
    assert api.post("/v1/sheets", json=["a"]).status_code == 400
    response = api.post("/v1/sheets", data="codes=a", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_an_empty_folder_or_an_unused_tag_has_nothing_to_print(api):
    folder = api.post("/v1/folders", json={"name": "Empty"}).get_json()
    for body, field in (({"folder_id": folder["id"]}, "folder_id"), ({"tag": "nowhere"}, "tag")):
        response = api.post("/v1/sheets", json=body)
        assert response.status_code == 400
        assert response.get_json()["field"] == field and "nothing to print" in response.get_json()["message"]


def test_the_limit_is_one_constant_for_lists_folders_and_tags(api, monkeypatch):
    folder = api.post("/v1/folders", json={"name": "Many"}).get_json()
    codes = bulk(api, 3, folder_id=folder["id"], tags=["many"])
    monkeypatch.setattr(rules, "MAX_CODES", 2)
    for body, field in (
        ({"codes": [code["id"] for code in codes]}, "codes"),
        ({"folder_id": folder["id"]}, "folder_id"),
        ({"tag": "many"}, "tag"),
    ):
        response = api.post("/v1/sheets", json=body)
        assert response.status_code == 400
        assert response.get_json()["field"] == field and "2" in response.get_json()["message"]
    assert api.post("/v1/sheets", json={"codes": [codes[0]["id"], codes[1]["id"]]}).status_code == 200


def test_another_accounts_codes_and_folders_are_404(api, other_api):
    mine = api.create(label="Mine", tags=["mine"])
    folder = api.post("/v1/folders", json={"name": "Mine"}).get_json()
    theirs = other_api.create(label="Theirs")
    for response in (
        api.post("/v1/sheets", json={"codes": [mine["id"], theirs["id"]]}),
        api.post("/v1/sheets", json={"codes": ["no-such-code"]}),
        other_api.post("/v1/sheets", json={"folder_id": folder["id"]}),
    ):
        assert response.status_code == 404
        assert response.get_json()["error"] == "not_found"
    assert "no-such-code" in api.post("/v1/sheets", json={"codes": ["no-such-code"]}).get_json()["message"]
    refused = other_api.post("/v1/sheets", json={"tag": "mine"})  # only their own codes carry tags
    assert refused.status_code == 400 and refused.get_json()["field"] == "tag"


def test_a_sheet_passes_the_render_gate(app, api):
    code = api.create()
    with app.app_context():
        account_id = get_or_create_account("owner@example.com").id
    gate = services(app).renders
    gate._held[account_id] = gate.per_owner  # this account's renders fill its budget
    try:
        response = api.post("/v1/sheets", json={"codes": [code["id"]]})
    finally:
        del gate._held[account_id]
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert api.post("/v1/sheets", json={"codes": [code["id"]]}).status_code == 200


def test_a_sheet_is_drawn_by_a_worker_process(tmp_path, monkeypatch):
    app = fresh_app(tmp_path, OPENQR_RENDER_PROCESSES=1)
    try:
        api = Api(app.test_client(), new_key(app))
        codes = bulk(api, 2, style=STYLES[3])

        def not_here(_job):
            raise AssertionError("drawn in the server process")

        monkeypatch.setattr(rules, "write", not_here)  # only this process's copy: the worker has its own
        body = sheet_of(api, codes=[code["id"] for code in codes]).data
        assert decoded_pages(body) == [sorted(code["short_url"] for code in codes)]
        assert services(app).renders.workers.pids()
    finally:
        close_app(app)


def test_no_key_is_a_401(client):
    response = client.post("/v1/sheets", json={"tag": "x"})
    assert response.status_code == 401
