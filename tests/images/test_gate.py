"""The render gate: every image path draws through it, within its capacity, line and per-account
budget; beyond them `429`/`503` with `Retry-After`, as JSON, a readable page or a tool error."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
import zipfile
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from openqr.config import ConfigError
from openqr.images import render as qr
from openqr.images import workers
from openqr.services import services
from tests.assistant.test_mcp_tools import _call
from tests.conftest import Api, close_app, fresh_app, new_key, sign_in
from tests.support.htmlparse import Page
from tests.support.waiting import wait_for

LIMITS = {
    "OPENQR_RENDER_PROCESSES": 0,
    "OPENQR_RENDER_PER_ACCOUNT": 2,
    "OPENQR_RENDER_QUEUE": 3,
    "OPENQR_RENDER_WAIT": 5.0,
    "WTF_CSRF_ENABLED": False,
}


class HeldDrawing:
    """Replaces the drawing: each batch waits until the test lets it through; records the order."""

    def __init__(self, monkeypatch):
        self.order, self.started = [], threading.Semaphore(0)
        self.go_on = threading.Event()
        real = workers.draw_all

        def held(params):
            self.started.release()
            assert self.go_on.wait(10)
            self.order.append(params[0].data)
            return real(params)

        monkeypatch.setattr(workers, "draw_all", held)

    def wait_started(self, n: int = 1) -> None:
        for _ in range(n):
            assert self.started.acquire(timeout=10), "no render started"


@pytest.fixture
def limited(tmp_path):
    app = fresh_app(tmp_path, **LIMITS)
    yield app
    close_app(app)


def _ask(api: Api, data: str, answers: dict) -> threading.Thread:
    def go():
        answers[data] = api.get("/v1/qr", query_string={"data": data, "size": 256})

    thread = threading.Thread(target=go)
    thread.start()
    return thread


def _line_length(app) -> int:
    return len(services(app).renders._line)


def _decoded(response) -> list[str]:
    image = Image.open(io.BytesIO(response.data)).convert("RGB")
    return [symbol.text for symbol in zxingcpp.read_barcodes(image)]


def test_an_account_over_its_budget_gets_429_others_still_get_drawn_in_turn(limited, monkeypatch):
    drawing = HeldDrawing(monkeypatch)
    mine, theirs = (
        Api(limited.test_client(), new_key(limited)),
        Api(limited.test_client(), new_key(limited, "b@x.io")),
    )
    answers: dict = {}
    first = _ask(mine, "mine-1", answers)
    drawing.wait_started()
    second = _ask(mine, "mine-2", answers)  # waits in line: the account now holds its 2
    assert wait_for(lambda: _line_length(limited) == 1, 10)
    refused = mine.get("/v1/qr", query_string={"data": "mine-3", "size": 256})
    assert refused.status_code == 429
    assert refused.get_json() == {
        "error": "rate_limited",
        "message": "Too many images at once: a workspace may have 2 drawn or waiting at a time. "
        f"Try again in {refused.headers['Retry-After']} seconds.",
    }
    assert int(refused.headers["Retry-After"]) >= 1
    other = _ask(theirs, "theirs-1", answers)  # another account is not refused: it waits its turn
    assert wait_for(lambda: _line_length(limited) == 2, 10)
    drawing.go_on.set()
    for thread in (first, second, other):
        thread.join(10)
    assert [answers[name].status_code for name in ("mine-1", "mine-2", "theirs-1")] == [200, 200, 200]
    assert drawing.order == ["mine-1", "theirs-1", "mine-2"]  # accounts take turns, not first come
    assert _decoded(answers["theirs-1"]) == ["theirs-1"]


def test_a_full_line_answers_503_with_retry_after(limited, monkeypatch):
    drawing = HeldDrawing(monkeypatch)
    answers: dict = {}
    accounts = [Api(limited.test_client(), new_key(limited, f"a{i}@x.io")) for i in range(5)]
    running = _ask(accounts[0], "running", answers)
    drawing.wait_started()
    waiting = [_ask(accounts[i], f"waiting-{i}", answers) for i in (1, 2, 3)]
    assert wait_for(lambda: _line_length(limited) == 3, 10)
    refused = accounts[4].get("/v1/qr", query_string={"data": "one too many", "size": 256})
    assert refused.status_code == 503
    assert refused.get_json()["error"] == "busy" and int(refused.headers["Retry-After"]) >= 1
    assert "drawing as many images as it can" in refused.get_json()["message"]
    drawing.go_on.set()
    for thread in (running, *waiting):
        thread.join(10)
    assert sorted(answer.status_code for answer in answers.values()) == [200] * 4


def test_a_render_that_waits_too_long_answers_503(tmp_path, monkeypatch):
    app = fresh_app(tmp_path, **{**LIMITS, "OPENQR_RENDER_WAIT": 0.3})
    try:
        drawing = HeldDrawing(monkeypatch)
        answers: dict = {}
        first = _ask(Api(app.test_client(), new_key(app)), "slow", answers)
        drawing.wait_started()
        started = time.monotonic()
        late = Api(app.test_client(), new_key(app, "b@x.io")).get("/v1/qr", query_string={"data": "late"})
        assert late.status_code == 503 and late.headers["Retry-After"]
        assert 0.3 <= time.monotonic() - started < 5
        assert _line_length(app) == 0  # it gave its place up
        drawing.go_on.set()
        first.join(10)
        assert answers["slow"].status_code == 200
    finally:
        close_app(app)


def test_a_cached_image_is_answered_while_the_gate_is_full(limited, monkeypatch):
    api = Api(limited.test_client(), new_key(limited))
    assert api.get("/v1/qr", query_string={"data": "poster", "size": 256}).status_code == 200
    drawing = HeldDrawing(monkeypatch)
    answers: dict = {}
    held = [_ask(api, f"new-{i}", answers) for i in range(2)]
    drawing.wait_started()
    again = api.get("/v1/qr", query_string={"data": "poster", "size": 256})
    assert again.status_code == 200  # the account is at its budget, but this costs no drawing
    drawing.go_on.set()
    for thread in held:
        thread.join(10)


def test_every_other_render_path_refuses_readably_beyond_the_budget(limited, monkeypatch):
    """The dashboard's image and ZIP get a page, the assistant's render_qr a tool error."""
    api = Api(limited.test_client(), new_key(limited))
    code = api.create("https://example.com/menu")
    drawing = HeldDrawing(monkeypatch)
    answers: dict = {}
    held = [_ask(api, f"held-{i}", answers) for i in range(2)]
    drawing.wait_started()
    assert wait_for(lambda: _line_length(limited) == 1, 10)
    web = limited.test_client()
    sign_in(web, limited)
    image = web.get(f"/codes/{code['id']}/qr.png?size=300")
    assert image.status_code == 429 and image.headers["Retry-After"]
    assert "Too many images at once" in Page(image.text).text
    archive = web.get(f"/codes/export.zip?ids={code['id']}")
    assert archive.status_code == 429 and "Too many images at once" in Page(archive.text).text
    assert api.get(f"/v1/dynamic/{code['id']}/qr?size=300").status_code == 429
    tool = _call(limited, api.key, "render_qr", {"id": code["id"], "size": 300})
    assert tool.is_error and tool.structured_content["error"] == "rate_limited"
    assert tool.structured_content["retry_after"] >= 1
    drawing.go_on.set()
    for thread in held:
        thread.join(10)
    zipped = zipfile.ZipFile(io.BytesIO(web.get(f"/codes/export.zip?ids={code['id']}").data))
    assert len([name for name in zipped.namelist() if name.endswith(".png")]) == 1


@pytest.fixture
def drawing(tmp_path):
    """An app whose images are drawn by one worker process, as the server's are."""
    app = fresh_app(tmp_path, OPENQR_RENDER_PROCESSES=1)
    yield app, Api(app.test_client(), new_key(app))
    close_app(app)


def test_images_are_drawn_by_a_worker_process_at_the_lowest_priority(drawing, monkeypatch):
    app, api = drawing

    def not_here(_params):
        raise AssertionError("drawn in the server process")

    monkeypatch.setattr(qr, "render", not_here)  # only this process's copy: a worker has its own
    response = api.get("/v1/qr", query_string={"data": "drawn elsewhere", "size": 512})
    assert response.status_code == 200 and _decoded(response) == ["drawn elsewhere"]
    pids = services(app).renders.workers.pids()
    assert pids and all(os.getpriority(os.PRIO_PROCESS, pid) == workers.NICENESS for pid in pids)
    services(app).stop()
    assert wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), 10)  # none left


def test_a_killed_worker_is_replaced(drawing):
    app, api = drawing
    assert api.get("/v1/qr", query_string={"data": "before", "size": 256}).status_code == 200
    killed = services(app).renders.workers.pids()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)  # the pool notices its worker is gone
    for data in ("while replacing", "after"):
        response = api.get("/v1/qr", query_string={"data": data, "size": 256})
        assert response.status_code == 200 and _decoded(response) == [data]
    assert set(services(app).renders.workers.pids()).isdisjoint(killed)


def test_a_line_that_would_take_every_thread_stops_start_up(tmp_path):
    with pytest.raises(ConfigError) as err:
        fresh_app(tmp_path, OPENQR_THREADS=8, OPENQR_RENDER_QUEUE=7, OPENQR_RENDER_PROCESSES=1)
    assert str(err.value) == (
        "OPENQR_RENDER_QUEUE=7 with OPENQR_RENDER_PROCESSES=1 leaves no thread of OPENQR_THREADS=8 for "
        "the redirect: every image waiting or drawn holds one"
    )
    app = fresh_app(tmp_path, OPENQR_THREADS=8)  # the default line: half the threads
    try:
        assert services(app).renders.queue == 4
    finally:
        close_app(app)
