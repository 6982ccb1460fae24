"""Prometheus metrics at `GET /metrics`, per process, guarded by `OPENQR_METRICS_TOKEN`.

Each process serves its own figures with a `process` label (host:port): counting stays
in memory with no shared files, and the redirect's counters can be plain `itertools.count`
objects (about 90 ns and no lock per redirect, against over a microsecond for a locked
`Counter.inc()`), which a custom collector reads at scrape time. prometheus-client's
multi-process mode would not run that collector (it supports no custom collectors).
"""

from __future__ import annotations

import hmac
import itertools
import platform
import socket
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, Info, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from ..services import current_services, services
from ..webhooks import outbox as webhooks
from .health import VERSION

if TYPE_CHECKING:
    from ..scans.recorder import ScanRecorder
    from ..webhooks.delivery import Deliverer

bp = Blueprint("metrics", __name__)

OUTCOMES = ("scan", "bot", "not_found", "ended")


def value(counter: itertools.count) -> int:
    """The next number an `itertools.count` would give: how many times it was advanced."""
    return int(repr(counter)[6:-1])  # "count(42)"


class RedirectCounts:
    """Redirects answered, by outcome: the hot path calls `next(counts.scan)` and nothing else.

    `bot` covers every redirect not counted as a scan (crawlers, preview bots, HEAD);
    `ended` every code that no longer redirects (disabled or ended).
    """

    __slots__ = OUTCOMES

    def __init__(self):
        for outcome in OUTCOMES:
            setattr(self, outcome, itertools.count())


class Metrics:
    """One app's figures and the registry `/metrics` renders."""

    def __init__(self, app: Flask, recorder: ScanRecorder, deliverer: Deliverer):
        self.app, self.recorder, self.deliverer = app, recorder, deliverer
        self.process = f"{socket.gethostname()}:{app.config['OPENQR_PORT']}"
        self.fast = RedirectCounts()  # answered by openqr.redirect.fastpath, before Flask
        self.routed = RedirectCounts()  # answered by the redirect view
        self.http: dict[tuple[str, int], itertools.count] = {}
        self.database_errors = itertools.count()
        self.registry = CollectorRegistry()
        self.flush_seconds = Histogram(
            "openqr_scan_flush_seconds",
            "Time to write one batch of buffered scans (with their webhook events).",
            ["process"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        ).labels(self.process)
        Info("openqr_build", "Version of OpenQR and Python.", ["process"], registry=self.registry).labels(
            self.process
        ).info({"version": VERSION, "python": platform.python_version()})
        ProcessCollector(registry=self.registry)
        self.registry.register(self)

    def count_database_error(self, _context) -> None:
        """SQLAlchemy's `handle_error` hook. It must return None: a returned value replaces the error."""
        next(self.database_errors)

    def count_request(self, response):
        key = (request.blueprint or "", response.status_code)
        counter = self.http.get(key)
        if counter is None:
            counter = self.http.setdefault(key, itertools.count())
        next(counter)
        return response

    def collect(self):
        """Read the plain counters at scrape time (the custom-collector half of the registry)."""
        labels = ["process"]
        redirects = CounterMetricFamily(
            "openqr_redirects", "Short-link requests answered, by outcome.", labels=[*labels, "outcome"]
        )
        for outcome in OUTCOMES:
            total = value(getattr(self.fast, outcome)) + value(getattr(self.routed, outcome))
            redirects.add_metric([self.process, outcome], total)
        yield redirects

        http = CounterMetricFamily(
            "openqr_http_requests",
            "HTTP requests answered, by blueprint and status (fast-path redirects under `redirect`).",
            labels=[*labels, "blueprint", "status"],
        )
        totals = {key: value(counter) for key, counter in list(self.http.items())}
        fast = sum(value(getattr(self.fast, outcome)) for outcome in ("scan", "bot"))
        totals[("redirect", 302)] = totals.get(("redirect", 302), 0) + fast
        for (blueprint, status), total in sorted(totals.items()):
            http.add_metric([self.process, blueprint, str(status)], total)
        yield http

        health = self.recorder.health()
        recorder, journal = health["scans"], health["journal"]
        buffered = GaugeMetricFamily(
            "openqr_scans_buffered", "Scans answered and not yet stored (journal and memory).", labels=labels
        )
        buffered.add_metric([self.process], recorder["buffered"])
        yield buffered
        for name, doc in (
            ("written", "Scans written to the database."),
            ("dropped", "Scans not recorded: the journal could not take them and memory was full."),
            ("failed", "Scans the database refused, set aside for the next start."),
        ):
            family = CounterMetricFamily(f"openqr_scans_{name}", doc, labels=labels)
            family.add_metric([self.process], recorder["flushed" if name == "written" else name])
            yield family
        for name, doc in (
            (
                "pending_records",
                "Scans in the scan journal not yet stored (this process's and adopted ones).",
            ),
            ("pending_bytes", "Bytes of scan journal records not yet stored."),
            ("segments", "Scan journal segment files."),
        ):
            gauge = GaugeMetricFamily(f"openqr_scan_journal_{name}", doc, labels=labels)
            gauge.add_metric([self.process], journal[name])
            yield gauge
        failures = CounterMetricFamily(
            "openqr_scan_journal_write_failures",
            "Scans the journal could not write (a full disk, an unwritable folder): kept in memory instead.",
            labels=labels,
        )
        failures.add_metric([self.process], journal["write_failures"])
        yield failures

        errors = CounterMetricFamily("openqr_database_errors", "Database errors raised.", labels=labels)
        errors.add_metric([self.process], value(self.database_errors))
        yield errors

        deliveries = CounterMetricFamily(
            "openqr_webhook_deliveries",
            "Webhook requests, by result: delivered (2xx), retry (scheduled again), failed (given up).",
            labels=[*labels, "result"],
        )
        for result, total in self.deliverer.results.items():
            deliveries.add_metric([self.process, result], total)
        yield deliveries
        depth = self._outbox_depth()
        if depth is not None:
            gauge = GaugeMetricFamily(
                "openqr_webhook_outbox_events",
                "Webhook events waiting for delivery (all processes).",
                labels=labels,
            )
            gauge.add_metric([self.process], depth)
            yield gauge

    def _outbox_depth(self) -> int | None:
        with self.app.app_context():
            try:
                return webhooks.outbox_depth()
            except SQLAlchemyError:  # the database is down: the scrape still answers, without this figure
                db.session.rollback()
                return None

    def render(self) -> bytes:
        return generate_latest(self.registry)


@bp.get("/metrics")
def scrape():
    """Prometheus text format; 404 unless OPENQR_METRICS_TOKEN is set, then that Bearer token is needed."""
    token = current_app.config.get("OPENQR_METRICS_TOKEN") or ""
    if not token:
        abort(404)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return (
            "Send 'Authorization: Bearer <OPENQR_METRICS_TOKEN>'.\n",
            401,
            {
                "WWW-Authenticate": 'Bearer realm="metrics"',
                "Content-Type": "text/plain; charset=utf-8",
            },
        )
    body = current_services().metrics.render()
    return body, 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}


def init_app(app: Flask) -> None:
    """Count what the app's metrics count: the recorder's flushes, requests, database errors."""
    found = services(app)
    metrics = found.metrics
    found.recorder.observe_flush = metrics.flush_seconds.observe
    app.after_request(metrics.count_request)
    with app.app_context():
        event.listen(db.engine, "handle_error", metrics.count_database_error)
    app.register_blueprint(bp)
