"""The order an accepted quote becomes: split into orders, checked against the ledger, priced as quoted (pure).

Prices are never computed again: every amount comes from the accepted revision. A line ordered in
parts gets its share of each item's amount, rounded to the currency's minor unit by the quote's own
rounding mode, and the part that completes the line takes what is left — so the parts of a line
always add up to exactly what was quoted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from cpq.errors import Conflict, InvalidInput
from cpq.pricing.money import format_amount, round_amount, to_decimal

CONTRACT_VERSION = 1
# the line fields an order request may be split by (CPQ_ORDER_SPLIT_BY or `split_by` in the request)
SPLIT_FIELDS = ("requested_date", "group", "product", "line")
RECURRING = ("monthly", "annual")


class OrderedQuantityExceeded(Conflict):
    """More of a line was asked for than the quote has left to order; `remaining` says how much is left."""

    code = "ordered_quantity_exceeded"
    title = "More than was quoted"


class NothingToOrder(Conflict):
    code = "nothing_to_order"
    title = "Everything on the quote is ordered"


@dataclass(frozen=True)
class AcceptedQuote:
    """What an order is made from: the accepted revision of a quote and its account (plain values)."""

    number: str
    revision: int
    document_hash: str
    ruleset_version: str
    currency: str
    rounding_mode: str
    account: Mapping[str, object]
    request_lines: Sequence[Mapping]
    priced_lines: Sequence[Mapping]
    accepted_name: str | None = None
    accepted_at: str | None = None
    payment_terms: str | None = None
    delivery_terms: str | None = None
    term_months: int | None = None


@dataclass(frozen=True)
class LineRequest:
    """Order `quantity` of the quote's line `line_id`, wanted on `requested_date` (None: as soon as possible)."""

    line_id: str
    quantity: int
    requested_date: date | None = None


@dataclass(frozen=True)
class PlannedOrder:
    """One order to send: its number, the contract payload, and what it takes from the ledger per line."""

    order_number: str
    payload: dict
    quantities: dict[str, int] = field(default_factory=dict)


def order_number(quote_number: str, sequence: int) -> str:
    """The order number derived from the quote number: Q-2026-000123 → O-2026-000123-1, -2, …"""
    base = quote_number.removeprefix("Q-")
    return f"O-{base}-{sequence}"


def payload_hash(payload: Mapping) -> str:
    """A stable hash of an order payload: the same idempotency key must come with the same order."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def quoted_quantities(quote: AcceptedQuote) -> dict[str, int]:
    """Each line's quoted quantity, by line id."""
    return {line["id"]: int(line["quantity"]) for line in quote.priced_lines}


def remaining(quote: AcceptedQuote, ordered: Mapping[str, int]) -> dict[str, int]:
    """What is left to order of each line: quoted minus what the ledger holds."""
    return {line_id: quantity - ordered.get(line_id, 0) for line_id, quantity in quoted_quantities(quote).items()}


def _split_key(split_by: str | None, wanted: LineRequest, request_line: Mapping, default_date: date | None) -> str:
    if not split_by:
        return ""
    if split_by == "requested_date":
        when = wanted.requested_date or default_date
        return when.isoformat() if when else ""
    if split_by == "line":
        return wanted.line_id
    value = request_line.get(split_by)
    return "" if value is None else str(value)


def check_split_by(split_by: str | None) -> None:
    if split_by and split_by not in SPLIT_FIELDS:
        raise InvalidInput(f"orders can be split by {', '.join(SPLIT_FIELDS)}, not '{split_by}'",
                           errors={"split_by": [f"one of {', '.join(SPLIT_FIELDS)}"]})


def plan_orders(quote: AcceptedQuote, ordered: Mapping[str, int], wanted: Sequence[LineRequest] | None, *,
                split_by: str | None, requested_date: date | None, first_sequence: int,
                today: date) -> list[PlannedOrder]:
    """The orders to send for `wanted` (None: all that is left), split by `split_by`, within the ledger.

    Raises InvalidInput for unknown lines or dates in the past, OrderedQuantityExceeded when a line
    would be ordered beyond its quoted quantity, NothingToOrder when nothing is left.
    """
    check_split_by(split_by)
    left = remaining(quote, ordered)
    if requested_date is not None and requested_date < today:
        raise InvalidInput("requested_date is in the past", errors={"requested_date": ["must be today or later"]})
    if wanted is None:
        wanted = [LineRequest(line_id, quantity) for line_id, quantity in left.items() if quantity > 0]
        if not wanted:
            raise NothingToOrder(f"every line of quote {quote.number} is already ordered")
    problems: dict[str, list[str]] = {}
    for index, item in enumerate(wanted):
        if item.line_id not in left:
            problems[str(index)] = [f"quote {quote.number} has no line '{item.line_id}'; lines: {', '.join(left)}"]
        elif item.quantity < 1:
            problems[str(index)] = ["quantity must be at least 1"]
        elif item.requested_date is not None and item.requested_date < today:
            problems[str(index)] = ["requested_date must be today or later"]
    if problems:
        raise InvalidInput("some order lines are not on the quote", errors={"lines": problems})
    asked: dict[str, int] = {}
    for item in wanted:
        asked[item.line_id] = asked.get(item.line_id, 0) + item.quantity
    over = {line_id: n for line_id, n in asked.items() if n > left[line_id]}
    if over:
        quoted = quoted_quantities(quote)
        detail = "; ".join(f"line {line_id}: {n} asked, {quoted[line_id]} quoted, "
                           f"{ordered.get(line_id, 0)} already ordered" for line_id, n in over.items())
        raise OrderedQuantityExceeded(f"more than was quoted: {detail}",
                                      remaining={line_id: max(left[line_id], 0) for line_id in over})

    request_by_id = {p["id"]: r for p, r in zip(quote.priced_lines, quote.request_lines, strict=True)}
    groups: dict[str, list[LineRequest]] = {}
    for item in wanted:
        key = _split_key(split_by, item, request_by_id[item.line_id], requested_date)
        groups.setdefault(key, []).append(item)

    progress = dict(ordered)  # cumulative ordered quantity per line, as each planned order takes its part
    planned = []
    for offset, key in enumerate(sorted(groups)):
        number = order_number(quote.number, first_sequence + offset)
        order_date = date.fromisoformat(key) if split_by == "requested_date" and key else requested_date
        lines, quantities = [], {}
        for position, item in enumerate(groups[key], start=1):
            before = progress.get(item.line_id, 0)
            progress[item.line_id] = before + item.quantity
            quantities[item.line_id] = quantities.get(item.line_id, 0) + item.quantity
            lines.append(_order_line(quote, position, item, before, request_by_id[item.line_id],
                                     item.requested_date or order_date))
        planned.append(PlannedOrder(number, _payload(quote, number, order_date, lines), quantities))
    return planned


def _share(amount: str, done: int, quoted: int, quote: AcceptedQuote) -> Decimal:
    """The part of `amount` that belongs to the first `done` of `quoted` units (all of it when done == quoted)."""
    whole = Decimal(amount)
    if done == quoted:
        return whole
    if done == 0:
        return Decimal(0)
    return round_amount(to_decimal(Fraction(whole) * done / quoted), quote.currency, quote.rounding_mode)


def _order_line(quote: AcceptedQuote, position: int, item: LineRequest, before: int, request_line: Mapping,
                requested: date | None) -> dict:
    priced = next(p for p in quote.priced_lines if p["id"] == item.line_id)
    quoted = int(priced["quantity"])
    after = before + item.quantity
    cur = quote.currency
    items = []
    for sku in priced["items"]:
        net = _share(sku["net"], after, quoted, quote) - _share(sku["net"], before, quoted, quote)
        total = _share(sku["total"], after, quoted, quote) - _share(sku["total"], before, quoted, quote)
        per_bundle = int(sku.get("units_per_bundle") or 1)
        items.append({
            "sku": sku["sku"], "name": sku.get("name"), "role": sku.get("role"),
            "quantity": per_bundle * item.quantity, "charge": sku.get("charge", "one_time"),
            "term_months": sku.get("term_months"), "net": format_amount(net, cur), "total": format_amount(total, cur),
        })
    return {
        "position": position, "line_id": item.line_id, "product": priced["product"], "name": priced.get("name"),
        "quantity": item.quantity, "quoted_quantity": quoted,
        "requested_date": requested.isoformat() if requested else None,
        "configuration": {"options": list(request_line.get("options", [])),
                          "components": list(request_line.get("components", []))},
        "items": items,
        "total": format_amount(sum((Decimal(i["total"]) for i in items), Decimal(0)), cur),
    }


def _payload(quote: AcceptedQuote, number: str, requested: date | None, lines: list[dict]) -> dict:
    cur = quote.currency
    items = [(line, i) for line in lines for i in line["items"]]

    def total(charge: str, amount: str) -> str:
        return format_amount(sum((Decimal(i[amount]) for _, i in items if i["charge"] == charge), Decimal(0)), cur)

    return {
        "contract_version": CONTRACT_VERSION,
        "order_number": number,
        "quote": {"number": quote.number, "revision": quote.revision, "document_hash": quote.document_hash,
                  "ruleset_version": quote.ruleset_version, "accepted_by": quote.accepted_name,
                  "accepted_at": quote.accepted_at},
        "account": dict(quote.account),
        "currency": cur,
        "requested_date": requested.isoformat() if requested else None,
        "payment_terms": quote.payment_terms,
        "delivery_terms": quote.delivery_terms,
        "lines": lines,
        "recurring": [{"line_id": line["line_id"], "sku": i["sku"], "charge": i["charge"],
                       "term_months": i["term_months"] or quote.term_months, "amount_per_period": i["net"],
                       "contract_value": i["total"]}
                      for line, i in items if i["charge"] in RECURRING],
        "totals": {
            "one_time": total("one_time", "total"),
            "monthly": total("monthly", "net"),
            "annual": total("annual", "net"),
            "contract_value": format_amount(sum((Decimal(line["total"]) for line in lines), Decimal(0)), cur),
        },
    }
