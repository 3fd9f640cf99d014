"""Planning orders from an accepted quote: numbers, splits, the ledger and locked prices (pure)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpq.errors import InvalidInput
from cpq.orders.contract import (
    AcceptedQuote,
    LineRequest,
    NothingToOrder,
    OrderedQuantityExceeded,
    order_number,
    payload_hash,
    plan_orders,
)

TODAY = date(2026, 3, 1)


def item(sku, net, total=None, charge="one_time", per_bundle=1, quantity=3, term=None):
    return {"sku": sku, "name": sku.title(), "role": "product", "quantity": quantity * per_bundle,
            "units_per_bundle": per_bundle, "charge": charge, "term_months": term, "net": net, "total": total or net}


def accepted(currency="USD", mode="half_up"):
    priced = [
        {"id": "web", "product": "SRV-2U", "name": "Rack server 2U", "quantity": 3,
         "items": [item("SRV-2U", "100.00"), item("SSD-960", "10.00", per_bundle=2)]},
        {"id": "ops", "product": "MON", "name": "Monitoring", "quantity": 5,
         "items": [item("MON-SEAT", "50.00", "1800.00", charge="monthly", quantity=5, term=36)]},
    ]
    request = [{"id": "web", "product": "SRV-2U", "quantity": 3, "group": "rack-a", "options": [{"id": "SSD-960"}]},
               {"id": "ops", "product": "MON", "quantity": 5}]
    return AcceptedQuote(number="Q-2026-000042", revision=2, document_hash="d" * 64, ruleset_version="r" * 64,
                         currency=currency, rounding_mode=mode, account={"id": "UMBRELLA", "name": "Umbrella"},
                         request_lines=request, priced_lines=priced, accepted_name="Alice Buyer",
                         accepted_at="2026-03-01T10:00:00+00:00", term_months=36)


def plan(quote=None, ordered=None, wanted=None, split_by=None, requested=None, first=1):
    return plan_orders(quote or accepted(), ordered or {}, wanted, split_by=split_by, requested_date=requested,
                       first_sequence=first, today=TODAY)


def test_the_order_number_is_derived_from_the_quote_number():
    assert order_number("Q-2026-000123", 1) == "O-2026-000123-1"
    assert order_number("Q-2026-000123", 12) == "O-2026-000123-12"


def test_everything_left_becomes_one_order_by_default():
    (only,) = plan()
    assert only.order_number == "O-2026-000042-1"
    assert only.quantities == {"web": 3, "ops": 5}
    payload = only.payload
    assert payload["quote"] == {"number": "Q-2026-000042", "revision": 2, "document_hash": "d" * 64,
                                "ruleset_version": "r" * 64, "accepted_by": "Alice Buyer",
                                "accepted_at": "2026-03-01T10:00:00+00:00"}
    assert [line["line_id"] for line in payload["lines"]] == ["web", "ops"]
    assert payload["totals"] == {"one_time": "110.00", "monthly": "50.00", "annual": "0.00",
                                 "contract_value": "1910.00"}


def test_recurring_terms_travel_with_the_order():
    (only,) = plan()
    assert only.payload["recurring"] == [{"line_id": "ops", "sku": "MON-SEAT", "charge": "monthly", "term_months": 36,
                                          "amount_per_period": "50.00", "contract_value": "1800.00"}]


def test_the_configuration_travels_with_each_line():
    (only,) = plan()
    assert only.payload["lines"][0]["configuration"] == {"options": [{"id": "SSD-960"}], "components": []}


@pytest.mark.parametrize(("split_by", "expected"), [
    ("group", [["ops"], ["web"]]),  # lines without a group go together, first
    ("line", [["ops"], ["web"]]),
    ("product", [["ops"], ["web"]]),
    (None, [["web", "ops"]]),
])
def test_a_line_field_decides_how_orders_are_split(split_by, expected):
    planned = plan(split_by=split_by)
    assert [[line["line_id"] for line in p.payload["lines"]] for p in planned] == expected
    assert [p.order_number for p in planned] == [f"O-2026-000042-{n}" for n in range(1, len(expected) + 1)]


def test_orders_split_by_requested_date_carry_their_date():
    planned = plan(split_by="requested_date", wanted=[
        LineRequest("web", 1, date(2026, 4, 1)), LineRequest("web", 2, date(2026, 5, 1)),
        LineRequest("ops", 5, date(2026, 4, 1))])
    assert [(p.payload["requested_date"], p.quantities) for p in planned] == [
        ("2026-04-01", {"web": 1, "ops": 5}), ("2026-05-01", {"web": 2})]


def test_the_ledger_refuses_more_than_was_quoted():
    with pytest.raises(OrderedQuantityExceeded) as info:
        plan(ordered={"web": 2}, wanted=[LineRequest("web", 2)])
    assert info.value.status == 409
    assert info.value.extra["remaining"] == {"web": 1}
    assert str(info.value) == "more than was quoted: line web: 2 asked, 3 quoted, 2 already ordered"


def test_the_same_line_twice_in_one_request_counts_twice():
    with pytest.raises(OrderedQuantityExceeded):
        plan(wanted=[LineRequest("web", 2), LineRequest("web", 2)])


def test_nothing_left_is_refused():
    with pytest.raises(NothingToOrder):
        plan(ordered={"web": 3, "ops": 5})


@pytest.mark.parametrize("wanted", [
    [LineRequest("nope", 1)],
    [LineRequest("web", 0)],
    [LineRequest("web", 1, date(2026, 2, 1))],
])
def test_unknown_lines_and_past_dates_are_invalid(wanted):
    with pytest.raises(InvalidInput) as info:
        plan(wanted=wanted)
    assert "0" in info.value.extra["errors"]["lines"]


def test_an_unknown_split_field_is_invalid():
    with pytest.raises(InvalidInput, match="split by"):
        plan(split_by="colour")


def test_a_part_of_a_line_gets_its_share_of_each_item_and_its_own_quantities():
    (first,) = plan(wanted=[LineRequest("web", 1)])
    line = first.payload["lines"][0]
    assert [(i["sku"], i["quantity"], i["total"]) for i in line["items"]] == [("SRV-2U", 1, "33.33"),
                                                                                ("SSD-960", 2, "3.33")]
    assert line["quoted_quantity"] == 3


def test_each_part_is_rounded_once_and_the_parts_add_up_to_the_quoted_amount():
    parts = [plan(ordered={"web": done}, wanted=[LineRequest("web", 1)])[0] for done in range(3)]
    totals = [p.payload["lines"][0]["items"][0]["total"] for p in parts]
    assert totals == ["33.33", "33.34", "33.33"]
    assert sum(Decimal(t) for t in totals) == Decimal("100.00")


def test_a_currency_without_minor_units_is_split_in_whole_units():
    (first,) = plan(accepted(currency="JPY"), wanted=[LineRequest("web", 1)])
    assert first.payload["lines"][0]["items"][0]["total"] == "33"


@given(st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=7),
       st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2))
def test_parts_of_a_line_always_add_up_to_the_quoted_amount(parts, amount):
    quoted = sum(parts)
    quote = accepted()
    priced = [{"id": "x", "product": "P", "quantity": quoted, "items": [item("P", str(amount), quantity=quoted)]}]
    quote = AcceptedQuote(**{**quote.__dict__, "priced_lines": priced, "request_lines": [{"product": "P"}]})
    ordered, total = 0, Decimal(0)
    for n in parts:
        (part,) = plan(quote, ordered={"x": ordered}, wanted=[LineRequest("x", n)])
        total += Decimal(part.payload["lines"][0]["total"])
        ordered += n
    assert total == amount


def test_the_payload_hash_ignores_key_order():
    assert payload_hash({"a": 1, "b": [1, 2]}) == payload_hash({"b": [1, 2], "a": 1})
    assert payload_hash({"a": 1}) != payload_hash({"a": 2})
