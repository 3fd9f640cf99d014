"""Order use cases: queue orders with a quote change, settle the quote after each send, status events, views.

The quote's state follows its outbox messages: `ordering` while any is pending, then `ordered`, or
`order_failed` when the latest order request has a refused message or any message is a dead letter.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa

from cpq.accounts import User
from cpq.errors import Conflict, Forbidden, NotFound
from cpq.orders import contract, outbox, records, settings
from cpq.orders import status as order_status
from cpq.orders.connectors import OrderReceipt
from cpq.quotes import lifecycle
from cpq.store import quotes as repo
from cpq.store.people import account_if_visible, get_account, visible_account_ids
from cpq.store.tables import quotes

SEES_ALL_ORDERS = frozenset({"order_manager", "admin", "sales_manager", "pricing_admin"})
RECORDS_EVENTS = ("order_manager", "admin")


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every stored one is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def accepted_quote(conn: sa.Connection, quote: repo.QuoteRow, revision: repo.RevisionRow) -> contract.AcceptedQuote:
    """The plain values an order is made from."""
    account = get_account(conn, quote.account_id)
    return contract.AcceptedQuote(
        number=quote.number, revision=revision.revision, document_hash=revision.document_hash or "",
        ruleset_version=revision.ruleset_version, currency=quote.currency,
        rounding_mode=(revision.priced.get("rounding") or {}).get("mode") or "half_up",
        account={"id": account.id, "name": account.name, "country": account.country, "tax_id": account.tax_id,
                 "address": account.address},
        request_lines=revision.request, priced_lines=revision.priced["lines"], accepted_name=revision.accepted_name,
        accepted_at=_utc(revision.accepted_at).isoformat() if revision.accepted_at else None,
        payment_terms=quote.payment_terms, delivery_terms=quote.delivery_terms, term_months=quote.term_months)


def queue_orders(conn: sa.Connection, quote: repo.QuoteRow, revision: repo.RevisionRow, *,
                 lines: Sequence[Mapping] | None, split_by: str | None, requested_date: date | None,
                 today: date) -> list[outbox.OutboxMessage]:
    """Write the outbox messages for (part of) an accepted quote, in the caller's transaction."""
    wanted = None if lines is None else [
        contract.LineRequest(line["line_id"], line["quantity"], line.get("requested_date")) for line in lines]
    sequence, batch = outbox.next_numbers(conn, quote.id)
    planned = contract.plan_orders(accepted_quote(conn, quote, revision), outbox.ordered_quantities(conn, quote.id),
                                   wanted, split_by=split_by, requested_date=requested_date,
                                   first_sequence=sequence, today=today)
    return [outbox.enqueue(conn, quote.id, batch, order) for order in planned]


def queue_on_accept(conn: sa.Connection, quote: repo.QuoteRow, revision: repo.RevisionRow,
                    today: date) -> list[outbox.OutboxMessage]:
    """The whole accepted quote, split by CPQ_ORDER_SPLIT_BY — unless CPQ_ORDER_ON_ACCEPT is off."""
    chosen = settings.current()
    if not chosen.order_on_accept:
        return []
    return queue_orders(conn, quote, revision, lines=None, split_by=chosen.split_by or None, requested_date=None,
                        today=today)


def _target_state(messages: Sequence[outbox.OutboxMessage]) -> str:
    if any(m.status == outbox.PENDING for m in messages):
        return lifecycle.ORDERING
    latest = max(m.batch for m in messages)
    if any(m.status == outbox.DEAD or (m.batch == latest and m.status == outbox.FAILED) for m in messages):
        return lifecycle.ORDER_FAILED
    return lifecycle.ORDERED


def lock_quote(conn: sa.Connection, quote_id: int) -> repo.QuoteRow:
    """Lock the quote row (PostgreSQL). Every transaction that records an order outcome takes this lock
    before it writes anything else, so that two workers never hold row locks the other one waits for."""
    number = conn.execute(sa.select(quotes.c.number).where(quotes.c.id == quote_id)).scalar_one()
    return repo.get_quote(conn, number, for_update=True)


def settle_quote(conn: sa.Connection, quote_id: int) -> repo.QuoteRow:
    """Move the quote to the state its outbox messages say, and give it the id of its first order."""
    quote = lock_quote(conn, quote_id)
    messages = outbox.of_quote(conn, quote_id)
    if not messages:
        return quote
    target = _target_state(messages)
    state = quote.state
    if state != target and state != lifecycle.ORDERING:
        state = lifecycle.next_state(state, "order")
    if state != target:
        state = lifecycle.next_state(state, "order_placed" if target == lifecycle.ORDERED else "order_failed")
    first_sent = next((m.order_number for m in messages if m.status == outbox.SENT), None)
    order_id = quote.order_id or first_sent
    if state == quote.state and order_id == quote.order_id:
        return quote
    return repo.update_quote(conn, quote, state=state, order_id=order_id)


def record_receipt(conn: sa.Connection, message: outbox.OutboxMessage, receipt: OrderReceipt,
                   connector: str) -> None:
    """Order management has the order: mark the message sent, keep (or find) the order, settle the quote."""
    lock_quote(conn, message.quote_id)
    outbox.mark_sent(conn, message, receipt.order_id, receipt.http_status)
    if records.by_key(conn, message.idempotency_key) is None:  # an external order management's order: mirror it
        records.keep_order(conn, message.payload, message.idempotency_key, connector, external_id=receipt.order_id,
                           status=receipt.status if receipt.status in order_status.STATUSES else order_status.RECEIVED)
    settle_quote(conn, message.quote_id)


def failure_reason(messages: Sequence[outbox.OutboxMessage]) -> str | None:
    """Why the quote is order_failed: the errors of its refused and dead messages."""
    latest = max((m.batch for m in messages), default=0)
    failed = [m for m in messages if m.status == outbox.DEAD or (m.batch == latest and m.status == outbox.FAILED)]
    if not failed:
        return None
    return "; ".join(f"{m.order_number} {'refused' if m.status == outbox.FAILED else 'gave up'}: {m.last_error}"
                     for m in failed)


# --- views -------------------------------------------------------------------------------------------------


def _visible_account_ids(conn: sa.Connection, user: User) -> list[str] | None:
    if user.role in SEES_ALL_ORDERS:
        return None
    return visible_account_ids(conn, user)


def _may_see(conn: sa.Connection, user: User, account_id: str) -> bool:
    return user.role in SEES_ALL_ORDERS or account_if_visible(conn, user, account_id) is not None


def order_view(conn: sa.Connection, order: records.OrderRow) -> dict:
    return {
        "id": order.number, "number": order.number, "external_id": order.external_id, "connector": order.connector,
        "status": order.status, "allowed_statuses": list(order_status.MOVES[order.status]),
        "quote": {"number": order.quote_number, "revision": order.quote_revision,
                  "document_hash": order.document_hash},
        "account_id": order.account_id, "currency": order.currency, "requested_date": order.requested_date,
        "total": order.total, "created_at": order.created_at, "updated_at": order.updated_at,
        "lines": [{k: line[k] for k in ("position", "line_id", "product", "name", "quantity", "requested_date",
                                        "total", "items")} for line in records.lines_of(conn, order.number)],
        "recurring": order.payload.get("recurring", []), "totals": order.payload.get("totals", {}),
        "events": [{k: e[k] for k in ("event_id", "status", "previous_status", "note", "occurred_at", "received_at")}
                   for e in records.events_of(conn, order.number)],
    }


def get_order(conn: sa.Connection, user: User, ref: str) -> dict:
    order = records.get_order(conn, ref)
    if not _may_see(conn, user, order.account_id):
        raise NotFound(f"order '{ref}' not found")  # never reveal another customer's order exists
    return order_view(conn, order)


def list_orders(conn: sa.Connection, user: User, filters: Mapping) -> dict:
    limit, offset = filters.get("limit", 20), filters.get("offset", 0)
    rows, total = records.listing(conn, _visible_account_ids(conn, user), status=filters.get("status"),
                                  quote_number=filters.get("quote"), account_id=filters.get("account_id"),
                                  limit=limit, offset=offset)
    items = [{"id": o.number, "number": o.number, "status": o.status, "quote": o.quote_number,
              "account_id": o.account_id, "currency": o.currency, "total": o.total,
              "requested_date": o.requested_date, "created_at": o.created_at, "updated_at": o.updated_at}
             for o in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def quote_orders(conn: sa.Connection, user: User, number: str) -> dict:
    """How far a quote is ordered: per line quoted / ordered / left, each order request and why one failed."""
    quote = repo.get_quote(conn, number)
    if not _may_see(conn, user, quote.account_id):
        raise NotFound(f"quote '{number}' not found")
    revision = repo.get_revision(conn, quote.id, quote.current_revision)
    ordered = outbox.ordered_quantities(conn, quote.id)
    messages = outbox.of_quote(conn, quote.id)
    kept = records.of_quote(conn, quote.id)
    return {
        "quote": quote.number, "state": quote.state, "order_id": quote.order_id,
        "failure": failure_reason(messages) if quote.state == lifecycle.ORDER_FAILED else None,
        "lines": [{"line_id": line["id"], "product": line["product"], "quoted": line["quantity"],
                   "ordered": ordered.get(line["id"], 0), "remaining": line["quantity"] - ordered.get(line["id"], 0)}
                  for line in revision.priced["lines"]],
        "orders": [{"order_number": m.order_number, "batch": m.batch, "delivery": m.status, "attempts": m.attempts,
                    "last_error": m.last_error, "last_http_status": m.last_http_status,
                    "next_attempt_at": m.next_attempt_at if m.status == outbox.PENDING else None,
                    "sent_at": m.sent_at, "order_id": m.order_id,
                    "status": kept[m.order_number].status if m.order_number in kept else None,
                    "requested_date": m.payload.get("requested_date"),
                    "lines": [{"line_id": line["line_id"], "quantity": line["quantity"],
                               "requested_date": line["requested_date"]} for line in m.payload["lines"]]}
                   for m in messages],
    }


# --- inbound status events ----------------------------------------------------------------------------------


class EventIdReused(Conflict):
    code = "event_id_reused"
    title = "Event id reused for another status"


def record_event(conn: sa.Connection, user: User, ref: str, wanted: str, *, event_id: str | None = None,
                 note: str | None = None, occurred_at: datetime | None = None) -> tuple[dict, bool]:
    """Apply a status event from order management; (order, False) when `event_id` was already applied."""
    if user.role not in RECORDS_EVENTS:
        raise Forbidden(f"order status events come from order management (role order_manager); you are {user.role}")
    order = records.get_order(conn, ref, for_update=True)
    if event_id is not None:
        seen = records.find_event(conn, order.number, event_id)
        if seen is not None:
            if seen["status"] != wanted:
                raise EventIdReused(f"event '{event_id}' of order {order.number} was '{seen['status']}', "
                                    f"not '{wanted}'")
            return order_view(conn, order), False
    new = order_status.next_status(order.status, wanted)
    order = records.change_status(conn, order, new, event_id=event_id or uuid.uuid4().hex, note=note,
                                  occurred_at=occurred_at, user_id=user.id)
    if new == order_status.CANCELLED:
        outbox.release(conn, order.number)  # a cancelled order no longer counts against the quote
    return order_view(conn, order), True


# --- dead letters ------------------------------------------------------------------------------------------


def dead_letters(conn: sa.Connection, user: User, limit: int, offset: int) -> dict:
    _admin(user)
    rows, total = outbox.listing(conn, status=outbox.DEAD, limit=limit, offset=offset)
    return {"items": [m.as_dict() for m in rows], "total": total, "limit": limit, "offset": offset}


def retry_dead_letter(conn: sa.Connection, user: User, message_id: int) -> dict:
    """Put a dead letter back in the queue (same idempotency key); its quote goes back to ordering."""
    _admin(user)
    lock_quote(conn, outbox.get(conn, message_id).quote_id)
    message = outbox.revive(conn, message_id)
    settle_quote(conn, message.quote_id)
    return message.as_dict()


def _admin(user: User) -> None:
    if user.role != "admin":
        raise Forbidden(f"dead letters are handled by an admin; you are {user.role}")
