"""Webhook delivery: one thread per process sends the outbox's due rows, signed, and retries failures.

Claiming is a short transaction: an endpoint that is due (its spacing interval has passed
and it has due rows) is locked with `FOR UPDATE SKIP LOCKED` on PostgreSQL (so two
processes never claim the same endpoint) or under SQLite's single writer; its due rows
get a lease (`next_attempt_at` moved past the request's timeout) and the endpoint's next
send time moves `OPENQR_WEBHOOK_INTERVAL` ahead. The HTTP request runs with no
transaction open and goes to exactly the addresses `egress` resolved and checked. A 2xx marks
the rows delivered; a URL no longer allowed marks them failed at once; anything else (another
status, no answer, an address refused) schedules a retry with exponential back-off and jitter
until `OPENQR_WEBHOOK_RETRY_FOR` has passed, then marks them failed. A crash mid-request
leaves the rows pending: the lease expires and they are sent again (at least once; event ids
let receivers drop the repeat).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
import time
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import exists, select, text, update

from ..destinations import DestinationError
from ..extensions import db
from ..models import Webhook, WebhookDelivery, utcnow
from . import egress
from . import outbox as webhooks
from .egress import Attempt, Outcome

log = logging.getLogger(__name__)

MAX_ROWS_PER_REQUEST = 50  # outbox rows merged into one request to an endpoint
MAX_EVENTS_PER_REQUEST = 10_000  # about 2 MB of JSON; a backlog drains over several requests
MAX_ENDPOINTS_PER_ROUND = 20
MAX_BACKOFF = 3600.0  # seconds between two attempts, at most
USER_AGENT = "OpenQR-Webhooks/1"


@dataclass
class Claim:
    webhook_id: str
    url: str
    secret: str
    row_ids: list[int]
    events: list[dict]


def _fitting(rows: list[WebhookDelivery]) -> list[WebhookDelivery]:
    """The first rows whose events fit in one request (the first row always does)."""
    kept, total = [], 0
    for row in rows:
        if kept and total + row.event_count > MAX_EVENTS_PER_REQUEST:
            break
        kept.append(row)
        total += row.event_count
    return kept


class Deliverer:
    """The delivery loop of one app; `start()` in serving processes, `run_once()` in tests and tools."""

    def __init__(self, app: Flask):
        config = app.config
        self.app = app
        self.timeout = config["OPENQR_WEBHOOK_TIMEOUT"]
        self.interval = config["OPENQR_WEBHOOK_INTERVAL"]
        self.retry_base = config["OPENQR_WEBHOOK_RETRY_BASE"]
        self.retry_for = config["OPENQR_WEBHOOK_RETRY_FOR"]
        self.tls = egress.tls_context(config.get("OPENQR_WEBHOOK_CA_FILE", ""))
        self.lease = 3 * self.timeout + 1  # a claimed row is not claimed again before this
        self.poll = min(0.5, self.interval)
        self.results = {"delivered": 0, "retry": 0, "failed": 0}  # requests, by outcome (for /metrics)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the delivery thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="openqr-webhooks", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread after the request it may be sending (at most `timeout` seconds)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Look at the outbox now rather than at the next poll (a test event was queued)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.run_once()
            except Exception:  # the database is down or a bug: log it, keep the thread alive
                log.warning("webhook delivery round failed; will retry", exc_info=True)

    def run_once(self) -> int:
        """Claim what is due, send it, record the outcomes; return how many requests were made."""
        with self.app.app_context():
            try:
                claims = self._claim()
            except Exception:
                db.session.rollback()
                raise
            for claim in claims:
                self._finish(claim, self._send(claim))
            return len(claims)

    def _claim(self) -> list[Claim]:
        now = utcnow()
        session = db.session
        if session.get_bind().dialect.name == "sqlite":
            # Take SQLite's write lock first, so two processes never read the same due rows.
            session.execute(text("UPDATE webhooks SET next_send_at = next_send_at WHERE 0"))
        due_row = exists().where(
            WebhookDelivery.webhook_id == Webhook.id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
        )
        hooks = session.execute(
            select(Webhook)
            .where(Webhook.next_send_at <= now, due_row)
            .order_by(Webhook.next_send_at)
            .limit(MAX_ENDPOINTS_PER_ROUND)
            .with_for_update(skip_locked=True)
        ).scalars()
        claims = []
        lease_until = now + dt.timedelta(seconds=self.lease)
        for hook in list(hooks):
            rows = list(
                session.execute(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.webhook_id == hook.id,
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .order_by(WebhookDelivery.id)
                    .limit(MAX_ROWS_PER_REQUEST)
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            rows = _fitting(rows)
            if not rows:
                continue
            for row in rows:
                row.attempts += 1
                row.last_attempt_at = now
                row.next_attempt_at = lease_until
            hook.next_send_at = now + dt.timedelta(seconds=self.interval)
            events = [event for row in rows for event in row.events]
            claims.append(Claim(hook.id, hook.url, hook.secret, [row.id for row in rows], events))
        session.commit()
        return claims

    def _send(self, claim: Claim) -> Attempt:
        """Check the URL (the operator may have narrowed the allow list since it was made), resolve
        and check its host, then POST to exactly the checked addresses."""
        config = self.app.config
        try:
            target = egress.check_url(config, claim.url)
        except DestinationError as err:
            return Attempt(Outcome.REFUSED, error=f"URL refused: {err}"[:200])
        try:
            addresses = egress.checked_addresses(config, target)
        except DestinationError as err:
            return Attempt(Outcome.FAILED, error=f"Not sent: {err}"[:200])
        body = json.dumps({"events": claim.events}, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            webhooks.TIMESTAMP_HEADER: str(timestamp),
            webhooks.SIGNATURE_HEADER: webhooks.signature(claim.secret, timestamp, body),
        }
        return egress.post(target, addresses, body, headers, self.timeout, self.tls)

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt: doubling from OPENQR_WEBHOOK_RETRY_BASE, jittered (50-100%)."""
        delay = min(self.retry_base * 2 ** min(attempts - 1, 30), MAX_BACKOFF)
        return delay * (0.5 + random.random() / 2)

    def _finish(self, claim: Claim, attempt: Attempt) -> None:
        now = utcnow()
        if attempt.outcome is Outcome.DELIVERED:
            db.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(claim.row_ids))
                .values(status="delivered", delivered_at=now, last_status=attempt.status, last_error=None)
            )
            self.results["delivered"] += 1
        else:
            rows = db.session.execute(
                select(WebhookDelivery).where(WebhookDelivery.id.in_(claim.row_ids))
            ).scalars()
            gave_up = False
            for row in rows:
                row.last_status, row.last_error = attempt.status, attempt.error
                expired = (now - row.created_at).total_seconds() >= self.retry_for
                if attempt.outcome is Outcome.REFUSED or expired:
                    row.status = "failed"
                    gave_up = True
                else:
                    row.next_attempt_at = now + dt.timedelta(seconds=self.backoff(row.attempts))
            self.results["failed" if gave_up else "retry"] += 1
            log.info("webhook %s: %s", claim.webhook_id, attempt.error)
        db.session.commit()
