"""A stored priced revision becomes document rows: bundles nest their items, amounts are never re-priced."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cpq.documents.content import (
    DocumentOptions,
    build_groups,
    build_line,
    build_totals,
    count_rows,
)


def item(sku, name, role, quantity, list_, net, total=None, charge="one_time", term=None):
    return {"sku": sku, "name": name, "role": role, "quantity": quantity, "list": list_, "net": net,
            "total": total or net, "charge": charge, "term_months": term, "waterfall": [
                {"kind": "list", "label": "List price", "before": None, "after": list_, "rule_id": "list-usd",
                 "note": ""}]}


STARTER = {  # a bundle with an option of its own, a component and that component's option
    "id": "7", "product": "DC-STARTER", "name": "Data-centre starter kit", "quantity": 1, "group": "Compute",
    "total": "19330.00",
    "items": [
        item("DC-STARTER", "Data-centre starter kit", "product", 1, "2400.00", "2400.00"),
        item("SUP-BASIC", "Next-business-day support", "option", 1, "300.00", "300.00", "900.00", "annual", 36),
        item("SRV-2U", "server: Rack server 2U", "component", 3, "12600.00", "11370.00"),
        item("CPU-16C", "server: 16-core 2.9 GHz processor", "option", 3, "2700.00", "2700.00"),
        item("SW-24P", "mgmt: 24-port switch", "component", 1, "1960.00", "1960.00"),
    ],
}
SINGLE = {"id": "2", "product": "SRV-2U", "name": "Rack server 2U", "quantity": 4, "group": "2", "total": "15160.00",
          "items": [item("SRV-2U", "Rack server 2U", "product", 4, "16800.00", "15160.00")]}


def test_a_bundle_nests_component_options_under_their_component():
    line = build_line(1, STARTER, DocumentOptions())
    assert [(r.role, r.depth, r.name) for r in line.items] == [
        ("base", 1, "Data-centre starter kit"),
        ("option", 1, "Next-business-day support"),
        ("component", 1, "Rack server 2U"),
        ("option", 2, "16-core 2.9 GHz processor"),
        ("component", 1, "24-port switch"),
    ]


def test_the_bundle_head_carries_the_line_total_and_its_discount_over_the_term():
    head = build_line(1, STARTER, DocumentOptions()).head
    assert head.amount == Decimal("19330.00")
    list_over_term = Decimal("2400") + Decimal("300") * 3 + Decimal("12600") + Decimal("2700") + Decimal("1960")
    assert head.unit_list == list_over_term
    assert head.discount == ((list_over_term - Decimal("19330")) / list_over_term).quantize(Decimal("0.0001"))
    assert head.charge == "bundle"  # the total includes recurring charges


def test_unit_prices_are_the_stored_amounts_divided_by_the_quantity():
    server = build_line(1, STARTER, DocumentOptions()).items[2]
    assert (server.quantity, server.unit_list, server.unit_net, server.amount) == (
        3, Decimal("4200"), Decimal("3790"), Decimal("11370.00"))
    assert server.discount == Decimal("0.0976")


def test_a_recurring_item_shows_per_period_prices_and_the_amount_over_the_term():
    support = build_line(1, STARTER, DocumentOptions()).items[1]
    assert (support.charge, support.term_months, support.unit_net, support.amount) == (
        "annual", 36, Decimal("300.00"), Decimal("900.00"))


def test_hidden_component_prices_leave_only_the_bundle_total():
    line = build_line(1, STARTER, DocumentOptions(hide_component_prices=True))
    assert line.head.amount == Decimal("19330.00")
    assert all(r.amount is None and r.unit_net is None for r in line.items)
    assert [r.quantity for r in line.items] == [1, 1, 3, 3, 1]


def test_a_single_product_line_is_its_own_head():
    line = build_line(2, SINGLE, DocumentOptions())
    assert line.items == ()
    assert (line.head.quantity, line.head.unit_list, line.head.unit_net) == (4, Decimal("4200"), Decimal("3790"))


def test_lines_gather_under_named_groups_and_a_group_named_after_its_line_is_no_group():
    priced = {"lines": [STARTER, SINGLE], "totals": {"by_group": {"Compute": "19330.00", "2": "15160.00"}}}
    groups = build_groups(priced, DocumentOptions())
    assert [(g.name, [line.position for line in g.lines], g.subtotal) for g in groups] == [
        ("Compute", [1], Decimal("19330.00")), (None, [2], Decimal("15160.00"))]


def test_totals_split_one_time_and_recurring_charges():
    totals = build_totals({"term_months": 36, "totals": {
        "list": "100.00", "one_time": "60.00", "mrr": "1.00", "arr": "12.00", "net": "96.00",
        "discount_percent": "4%", "tax": [{"rate": "standard", "percent": "8.25%", "base": "96.00", "tax": "7.92"}],
        "tax_total": "7.92", "grand_total": "103.92"}})
    assert (totals.one_time, totals.recurring, totals.discount) == (Decimal("60.00"), Decimal("36.00"), Decimal("0.04"))
    assert totals.tax[0].percent == Decimal("0.0825")
    assert totals.term_months == 36


@pytest.mark.parametrize(("options", "rows"), [
    (DocumentOptions(), (1 + 5) + 1),  # the bundle's head and 5 items, the single line
    (DocumentOptions(waterfall=True), (1 + 5) + 1 + 6 * (1 + 1)),  # each of the 6 items: a title and one step
])
def test_rows_are_counted_before_anything_is_built(options, rows):
    assert count_rows({"lines": [STARTER, SINGLE]}, options) == rows
