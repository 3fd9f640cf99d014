"""The orders table: kept by the builtin order management, mirrored from an external one (SQLAlchemy Core).

`keep_order` is idempotent per idempotency key: the same key with the same order returns the order
already kept; the same key with another order is refused. That is what makes a resend after a
timeout, a dropped connection or a killed worker harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa

from cpq.errors import Conflict, InvalidInput, NotFound
from cpq.orders import status as order_status
from cpq.orders.contract import payload_hash
from cpq.store.tables import accounts, order_events, order_lines, orders, quotes


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused for another order"


class OrderNumberTaken(Conflict):
    code = "order_number_taken"
    title = "Order number already used"


class OrderInvalid(InvalidInput):
    code = "order_invalid"
    title = "The order does not match its quote"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OrderRow:
    number: str
    external_id: str | None
    connector: str
    idempotency_key: str
    payload_hash: str
    quote_id: int
    quote_number: str
    quote_revision: int
    document_hash: str
    account_id: str
    currency: str
    requested_date: date | None
    status: str
    total: str
    payload: dict
    created_at: datetime
    updated_at: datetime


def _order(row) -> OrderRow:
    data = dict(row._mapping)
    data["payload"] = json.loads(data["payload"])
    return OrderRow(**data)


def by_key(conn: sa.Connection, idempotency_key: str) -> OrderRow | None:
    row = conn.execute(sa.select(orders).where(orders.c.idempotency_key == idempotency_key)).first()
    return None if row is None else _order(row)


def keep_order(conn: sa.Connection, payload: dict, idempotency_key: str, connector: str,
               external_id: str | None = None, status: str = order_status.RECEIVED) -> tuple[OrderRow, bool]:
    """Keep the order `payload` under `idempotency_key`; (order, True) when new, (order, False) on a replay.

    A concurrent keep of the same key may raise IntegrityError: run it again in a new transaction.
    """
    digest = payload_hash(payload)
    existing = by_key(conn, idempotency_key)
    if existing is not None:
        if existing.payload_hash != digest:
            raise IdempotencyKeyReused(f"Idempotency-Key '{idempotency_key}' was used for a different order "
                                       f"({existing.number})", order_number=existing.number)
        return existing, False
    number = payload["order_number"]
    if conn.execute(sa.select(orders.c.number).where(orders.c.number == number)).first():
        raise OrderNumberTaken(f"order {number} exists under another Idempotency-Key", order_number=number)
    ref = payload["quote"]
    quote = conn.execute(sa.select(quotes.c.id, quotes.c.account_id, quotes.c.currency)
                         .where(quotes.c.number == ref["number"])).first()
    if quote is None:
        raise OrderInvalid(f"quote '{ref['number']}' is unknown", errors={"quote": {"number": ["unknown quote"]}})
    if payload["account"].get("id") != quote.account_id or not conn.execute(
            sa.select(accounts.c.id).where(accounts.c.id == quote.account_id)).first():
        raise OrderInvalid(f"the order's account is not the account of quote {ref['number']}",
                           errors={"account": {"id": [f"must be {quote.account_id}"]}})
    if payload["currency"] != quote.currency:
        raise OrderInvalid(f"quote {ref['number']} is in {quote.currency}, not {payload['currency']}",
                           errors={"currency": [f"must be {quote.currency}"]})
    stamp = now()
    requested = payload.get("requested_date")
    conn.execute(orders.insert().values(
        number=number, external_id=external_id or number, connector=connector, idempotency_key=idempotency_key,
        payload_hash=digest, quote_id=quote.id, quote_number=ref["number"], quote_revision=ref["revision"],
        document_hash=ref["document_hash"], account_id=quote.account_id, currency=payload["currency"],
        requested_date=date.fromisoformat(requested) if requested else None, status=status,
        total=payload["totals"]["contract_value"], payload=json.dumps(payload, sort_keys=True),
        created_at=stamp, updated_at=stamp))
    for position, line in enumerate(payload["lines"], start=1):
        when = line.get("requested_date")
        conn.execute(order_lines.insert().values(
            order_number=number, position=position, line_id=line["line_id"], product=line["product"],
            name=line.get("name"), quantity=line["quantity"],
            requested_date=date.fromisoformat(when) if when else None, total=line["total"],
            items=json.dumps(line["items"], sort_keys=True)))
    return get_order(conn, number), True


def get_order(conn: sa.Connection, ref: str, *, for_update: bool = False) -> OrderRow:
    """The order with number `ref` (or, for an external order management, its id there)."""
    query = sa.select(orders).where(sa.or_(orders.c.number == ref, orders.c.external_id == ref))
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query.order_by(orders.c.number != ref)).first()
    if row is None:
        raise NotFound(f"order '{ref}' not found")
    return _order(row)


def of_quote(conn: sa.Connection, quote_id: int) -> dict[str, OrderRow]:
    rows = conn.execute(sa.select(orders).where(orders.c.quote_id == quote_id))
    return {r.number: _order(r) for r in rows}


def listing(conn: sa.Connection, account_ids: list[str] | None, *, status: str | None = None,
            quote_number: str | None = None, account_id: str | None = None, limit: int = 20,
            offset: int = 0) -> tuple[list[OrderRow], int]:
    """Orders of the given accounts (None: all), newest first, and how many there are."""
    where = []
    if account_ids is not None:
        where.append(orders.c.account_id.in_(account_ids or [""]))
    if status:
        where.append(orders.c.status == status)
    if quote_number:
        where.append(orders.c.quote_number == quote_number)
    if account_id:
        where.append(orders.c.account_id == account_id)
    total = conn.execute(sa.select(sa.func.count()).select_from(orders).where(*where)).scalar_one()
    rows = conn.execute(sa.select(orders).where(*where)
                        .order_by(orders.c.created_at.desc(), orders.c.number.desc()).limit(limit).offset(offset))
    return [_order(r) for r in rows], total


def lines_of(conn: sa.Connection, number: str) -> list[dict]:
    rows = conn.execute(sa.select(order_lines).where(order_lines.c.order_number == number)
                        .order_by(order_lines.c.position))
    return [{**dict(r._mapping), "items": json.loads(r.items)} for r in rows]


def events_of(conn: sa.Connection, number: str) -> list[dict]:
    rows = conn.execute(sa.select(order_events).where(order_events.c.order_number == number)
                        .order_by(order_events.c.id))
    return [dict(r._mapping) for r in rows]


def find_event(conn: sa.Connection, number: str, event_id: str) -> dict | None:
    row = conn.execute(sa.select(order_events).where(order_events.c.order_number == number,
                                                     order_events.c.event_id == event_id)).first()
    return None if row is None else dict(row._mapping)


def change_status(conn: sa.Connection, order: OrderRow, new_status: str, *, event_id: str, note: str | None,
                  occurred_at: datetime | None, user_id: int | None) -> OrderRow:
    """Move the order to `new_status` (only from the status it was read in) and keep the event."""
    stamp = now()
    done = conn.execute(orders.update().where(orders.c.number == order.number, orders.c.status == order.status)
                        .values(status=new_status, updated_at=stamp))
    if done.rowcount != 1:
        raise Conflict(f"order {order.number} changed meanwhile; send the event again")
    conn.execute(order_events.insert().values(
        order_number=order.number, event_id=event_id, status=new_status, previous_status=order.status, note=note,
        occurred_at=occurred_at, received_at=stamp, received_by=user_id))
    return get_order(conn, order.number)
