"""The transactional outbox of orders and the per-line ordered-quantity ledger (SQLAlchemy Core).

A message is written in the same transaction as the quote change that asks for the order, so an
order is asked for if and only if the quote changed. Workers claim due messages with a lease: on
PostgreSQL the claim skips rows another worker is claiming (`FOR UPDATE SKIP LOCKED`), so any number
of workers share the queue; on SQLite the claim is one atomic UPDATE (run one worker there). A worker
that dies mid-send leaves a lease that expires; the message is then claimed again and sent again with
the same idempotency key, which order management answers with the order it already has.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from cpq.errors import Conflict, NotFound
from cpq.orders.contract import PlannedOrder
from cpq.store.tables import order_ledger, order_outbox

PENDING = "pending"  # waiting for its first or next attempt (or being sent, while claimed)
SENT = "sent"  # order management has the order
FAILED = "failed"  # order management refused it (4xx): not retried, its quantities go back to the ledger
DEAD = "dead"  # gave up after the last attempt: a dead letter, listed and retried by an admin
STATUSES = (PENDING, SENT, FAILED, DEAD)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    quote_id: int
    batch: int
    order_number: str
    idempotency_key: str
    payload: dict
    status: str
    attempts: int
    next_attempt_at: datetime
    claimed_by: str | None
    claimed_until: datetime | None
    last_error: str | None
    last_http_status: int | None
    order_id: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None

    def as_dict(self) -> dict:
        """The message as the admin API shows it (the payload too: it is what is sent)."""
        return {"id": self.id, "order_number": self.order_number, "quote": self.payload["quote"]["number"],
                "idempotency_key": self.idempotency_key, "status": self.status, "attempts": self.attempts,
                "next_attempt_at": self.next_attempt_at, "last_error": self.last_error,
                "last_http_status": self.last_http_status, "order_id": self.order_id,
                "created_at": self.created_at, "updated_at": self.updated_at, "sent_at": self.sent_at,
                "payload": self.payload}


def _message(row) -> OutboxMessage:
    data = dict(row._mapping)
    data["payload"] = json.loads(data["payload"])
    return OutboxMessage(**data)


def enqueue(conn: sa.Connection, quote_id: int, batch: int, planned: PlannedOrder) -> OutboxMessage:
    """Write one order to send, and take its quantities from the ledger (in the caller's transaction)."""
    stamp = now()
    key = f"{planned.order_number}.{uuid.uuid4().hex}"  # readable in order management's logs, unique everywhere
    conn.execute(order_outbox.insert().values(
        quote_id=quote_id, batch=batch, order_number=planned.order_number, idempotency_key=key,
        payload=json.dumps(planned.payload, sort_keys=True), status=PENDING, attempts=0, next_attempt_at=stamp,
        created_at=stamp, updated_at=stamp))
    for line_id, quantity in planned.quantities.items():
        conn.execute(order_ledger.insert().values(order_number=planned.order_number, line_id=line_id,
                                                  quote_id=quote_id, quantity=quantity, created_at=stamp))
    return get(conn, order_number=planned.order_number)


def get(conn: sa.Connection, message_id: int | None = None, *, order_number: str | None = None) -> OutboxMessage:
    if message_id is not None and not 0 < message_id < 2**31:  # beyond any id (and any database integer)
        raise NotFound(f"outbox message '{message_id}' not found")
    where = order_outbox.c.id == message_id if message_id is not None else order_outbox.c.order_number == order_number
    row = conn.execute(sa.select(order_outbox).where(where)).first()
    if row is None:
        raise NotFound(f"outbox message '{message_id or order_number}' not found")
    return _message(row)


def of_quote(conn: sa.Connection, quote_id: int) -> list[OutboxMessage]:
    rows = conn.execute(sa.select(order_outbox).where(order_outbox.c.quote_id == quote_id).order_by(order_outbox.c.id))
    return [_message(r) for r in rows]


def next_numbers(conn: sa.Connection, quote_id: int) -> tuple[int, int]:
    """The next order sequence number and the next batch number of a quote."""
    count, batch = conn.execute(sa.select(sa.func.count(), sa.func.max(order_outbox.c.batch))
                                .where(order_outbox.c.quote_id == quote_id)).one()
    return count + 1, (batch or 0) + 1


def ordered_quantities(conn: sa.Connection, quote_id: int) -> dict[str, int]:
    """What the ledger holds per line of a quote: ordered, being ordered, or waiting as a dead letter."""
    rows = conn.execute(sa.select(order_ledger.c.line_id, sa.func.sum(order_ledger.c.quantity))
                        .where(order_ledger.c.quote_id == quote_id).group_by(order_ledger.c.line_id))
    return {line_id: int(total) for line_id, total in rows}


def ledger_of(conn: sa.Connection, order_number: str) -> dict[str, int]:
    rows = conn.execute(sa.select(order_ledger.c.line_id, order_ledger.c.quantity)
                        .where(order_ledger.c.order_number == order_number))
    return {line_id: quantity for line_id, quantity in rows}


def release(conn: sa.Connection, order_number: str) -> None:
    """Give an order's quantities back to its quote (the order was refused or cancelled)."""
    conn.execute(order_ledger.delete().where(order_ledger.c.order_number == order_number))


def claim(conn: sa.Connection, worker: str, *, lease_seconds: float, limit: int = 1) -> list[OutboxMessage]:
    """Claim up to `limit` due messages for `worker` for `lease_seconds`; each claim counts as an attempt."""
    stamp = now()
    t = order_outbox
    due = (sa.select(t.c.id)
           .where(t.c.status == PENDING, t.c.next_attempt_at <= stamp,
                  sa.or_(t.c.claimed_until.is_(None), t.c.claimed_until < stamp))
           .order_by(t.c.next_attempt_at, t.c.id)
           .limit(limit))
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = conn.execute(t.update().where(t.c.id.in_(due))
                        .values(claimed_by=worker, claimed_until=stamp + timedelta(seconds=lease_seconds),
                                attempts=t.c.attempts + 1, updated_at=stamp)
                        .returning(*t.c))
    return sorted((_message(r) for r in rows), key=lambda m: m.id)


def mark_sent(conn: sa.Connection, message: OutboxMessage, order_id: str, http_status: int | None) -> bool:
    """Record that order management has the order; a success wins even over a dead letter's record."""
    stamp = now()
    done = conn.execute(order_outbox.update()
                        .where(order_outbox.c.id == message.id, order_outbox.c.status.in_((PENDING, DEAD)))
                        .values(status=SENT, order_id=order_id, last_http_status=http_status, last_error=None,
                                claimed_by=None, claimed_until=None, sent_at=stamp, updated_at=stamp))
    return done.rowcount == 1


def _still_mine(message: OutboxMessage, worker: str):
    return sa.and_(order_outbox.c.id == message.id, order_outbox.c.status == PENDING,
                   order_outbox.c.claimed_by == worker)


def schedule_retry(conn: sa.Connection, message: OutboxMessage, worker: str, delay_seconds: float, error: str,
                   http_status: int | None) -> bool:
    """Put the message back for another attempt after `delay_seconds` (only while this worker holds it)."""
    stamp = now()
    done = conn.execute(order_outbox.update().where(_still_mine(message, worker))
                        .values(next_attempt_at=stamp + timedelta(seconds=delay_seconds), claimed_by=None,
                                claimed_until=None, last_error=error, last_http_status=http_status, updated_at=stamp))
    return done.rowcount == 1


def finish_unsent(conn: sa.Connection, message: OutboxMessage, worker: str, status: str, error: str,
                  http_status: int | None) -> bool:
    """Mark the message FAILED (refused: its quantities go back) or DEAD (gave up: they stay reserved)."""
    stamp = now()
    done = conn.execute(order_outbox.update().where(_still_mine(message, worker))
                        .values(status=status, claimed_by=None, claimed_until=None, last_error=error,
                                last_http_status=http_status, updated_at=stamp))
    if done.rowcount == 1 and status == FAILED:
        release(conn, message.order_number)
    return done.rowcount == 1


def count(conn: sa.Connection, status: str) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(order_outbox)
                        .where(order_outbox.c.status == status)).scalar_one()


def listing(conn: sa.Connection, *, status: str | None = None, limit: int = 50, offset: int = 0
            ) -> tuple[list[OutboxMessage], int]:
    where = [] if status is None else [order_outbox.c.status == status]
    total = conn.execute(sa.select(sa.func.count()).select_from(order_outbox).where(*where)).scalar_one()
    rows = conn.execute(sa.select(order_outbox).where(*where).order_by(order_outbox.c.id).limit(limit).offset(offset))
    return [_message(r) for r in rows], total


def revive(conn: sa.Connection, message_id: int) -> OutboxMessage:
    """A dead letter goes back to the queue with fresh attempts and the same idempotency key."""
    message = get(conn, message_id)
    if message.status != DEAD:
        raise Conflict(f"outbox message {message_id} is {message.status}; only dead letters are retried",
                       allowed=[])
    stamp = now()
    conn.execute(order_outbox.update().where(order_outbox.c.id == message_id, order_outbox.c.status == DEAD)
                 .values(status=PENDING, attempts=0, next_attempt_at=stamp, claimed_by=None, claimed_until=None,
                         updated_at=stamp))
    return get(conn, message_id)
