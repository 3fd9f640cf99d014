"""The outbox worker: claim due orders, send each with its idempotency key, record what happened.

Every attempt is one JSON log line (`outbox.attempt`) with the message, the attempt number, the
outcome (`sent`, `retry`, `failed`, `dead`), the HTTP status and how long it took. Timeouts,
connection errors and 5xx are retried after an exponential backoff with jitter; a 4xx is not
retried (the quote becomes `order_failed` with the reason); after the last attempt the message is a
dead letter. Backoff lives in the database (`next_attempt_at`), so it survives a restart.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from cpq.orders import outbox, service
from cpq.orders.connectors import OrderManagement, SendFailed, TemporaryFailure
from cpq.orders.settings import OrderSettings
from cpq.store.quotes import PreconditionFailed

log = logging.getLogger("cpq.orders.worker")


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, event and the record's `fields` (machine-readable logs)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name, "event": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, sort_keys=False)


def backoff_delay(attempt: int, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds before attempt `attempt` + 1: base·2^(attempt-1), capped, half of it random ("equal jitter").

    The random half spreads retries of many messages that failed together (an outage) over time, so the
    order management is not hit by all of them at once when it comes back.
    """
    step = min(cap, base * 2 ** max(attempt - 1, 0))
    return step / 2 + rng() * step / 2


def worker_name() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class OutboxWorker:
    """Sends the order outbox through one connector; run one per process (any number on PostgreSQL)."""

    def __init__(self, engine: sa.Engine, connector: OrderManagement, settings: OrderSettings, *,
                 name: str | None = None, batch: int = 1, rng: Callable[[], float] = random.random):
        self.engine = engine
        self.connector = connector
        self.settings = settings
        self.name = name or worker_name()
        self.batch = batch
        self.rng = rng
        self.stop = threading.Event()

    def _transaction(self, action, tries: int = 6):
        """Run `action(conn)` in a transaction, again when SQLite is busy or the quote moved meanwhile."""
        for attempt in range(tries):
            try:
                with self.engine.begin() as conn:
                    return action(conn)
            except (sa.exc.OperationalError, sa.exc.IntegrityError, PreconditionFailed):
                if attempt == tries - 1:
                    raise
                time.sleep(0.02 * 2 ** attempt * (1 + self.rng()))
        raise AssertionError("unreachable")  # pragma: no cover

    def claim(self) -> list[outbox.OutboxMessage]:
        def action(conn):
            messages = outbox.claim(conn, self.name, lease_seconds=self.settings.lease_seconds, limit=self.batch)
            for quote_id in sorted({m.quote_id for m in messages}):
                service.settle_quote(conn, quote_id)  # accepted → ordering: the quote shows it is being sent
            return messages

        return self._transaction(action)

    def send(self, message: outbox.OutboxMessage) -> str:
        """One attempt at one claimed message; returns the outcome and logs it."""
        started = time.monotonic()
        fields = {"worker": self.name, "connector": self.connector.name, "message_id": message.id,
                  "order_number": message.order_number, "quote": message.payload["quote"]["number"],
                  "idempotency_key": message.idempotency_key, "attempt": message.attempts,
                  "max_attempts": self.settings.max_attempts}
        try:
            receipt = self.connector.create_order(message.payload, message.idempotency_key)
        except SendFailed as failure:
            elapsed = round((time.monotonic() - started) * 1000)
            outcome, delay = self._record_failure(message, failure)
            fields |= {"outcome": outcome, "http_status": failure.http_status, "error": failure.reason,
                       "elapsed_ms": elapsed}
            if delay is not None:
                fields["retry_in_s"] = round(delay, 3)
            log.log(logging.WARNING if outcome == "retry" else logging.ERROR, "outbox.attempt",
                    extra={"fields": fields})
            return outcome
        elapsed = round((time.monotonic() - started) * 1000)
        self._transaction(lambda conn: service.record_receipt(conn, message, receipt, self.connector.name))
        fields |= {"outcome": "sent", "http_status": receipt.http_status, "order_id": receipt.order_id,
                   "replayed": not receipt.created, "elapsed_ms": elapsed}
        log.info("outbox.attempt", extra={"fields": fields})
        return "sent"

    def _record_failure(self, message: outbox.OutboxMessage, failure: SendFailed) -> tuple[str, float | None]:
        if failure.retryable and message.attempts < self.settings.max_attempts:
            delay = backoff_delay(message.attempts, self.settings.backoff_seconds, self.settings.backoff_max_seconds,
                                  self.rng)
            self._transaction(lambda conn: outbox.schedule_retry(conn, message, self.name, delay, failure.reason,
                                                                 failure.http_status))
            return "retry", delay
        status = outbox.DEAD if failure.retryable else outbox.FAILED
        reason = failure.reason if not failure.retryable else \
            f"gave up after {message.attempts} attempts; last: {failure.reason}"

        def action(conn):
            service.lock_quote(conn, message.quote_id)  # the quote first, as every outcome does
            outbox.finish_unsent(conn, message, self.name, status, reason, failure.http_status)
            service.settle_quote(conn, message.quote_id)

        self._transaction(action)
        return status, None

    def run_once(self) -> int:
        """Claim and send what is due now (one batch); how many messages were attempted."""
        messages = self.claim()
        claimed_at = time.monotonic()
        # a send must end before its lease does, or another worker could send the same message meanwhile
        latest_start = self.settings.lease_seconds - self.settings.connect_timeout - self.settings.read_timeout
        for message in messages:
            if time.monotonic() - claimed_at > latest_start:
                break  # the rest of the batch is claimed again when its lease has run out
            try:
                self.send(message)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
                log.exception("outbox.error", extra={"fields": {"worker": self.name, "message_id": message.id,
                                                                 "order_number": message.order_number}})
                # counted like a temporary failure, so that a message that always breaks ends as a dead
                # letter; if even that cannot be written, the lease expires and the message comes back
                with contextlib.suppress(Exception):
                    self._record_failure(message, TemporaryFailure(f"worker error: {exc!r}"[:2000]))
        return len(messages)

    def pending(self) -> int:
        with self.engine.connect() as conn:
            return outbox.count(conn, outbox.PENDING)

    def run(self, *, until_idle: bool = False, max_seconds: float | None = None) -> None:
        """Work until stopped (SIGTERM/SIGINT set `stop`), or — with `until_idle` — until nothing is pending."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        log.info("worker.start", extra={"fields": {"worker": self.name, "connector": self.connector.name,
                                                   "database": self.engine.dialect.name}})
        while not self.stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                done = self.run_once()
                if done:
                    continue
                if until_idle and self.pending() == 0:
                    break
            except Exception:  # noqa: BLE001 - a database outage must not end the worker
                log.exception("worker.error", extra={"fields": {"worker": self.name}})
            self.stop.wait(self.settings.poll_seconds)
        log.info("worker.stop", extra={"fields": {"worker": self.name}})
