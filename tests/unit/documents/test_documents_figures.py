"""The lines table's figures: one monospace text per row, each value right-aligned under its header."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from cpq.documents.content import (
    DocumentOptions,
    Group,
    Party,
    QuoteDocument,
    Totals,
    build_line,
)
from cpq.documents.figures import GAP, Figures, header_width
from cpq.documents.formatting import Formatter, locale_for
from tests.unit.documents.test_documents_content import SINGLE, STARTER

LABELS = {"quantity": "Qty", "unit_list": "Unit list price", "discount": "Discount", "unit_net": "Net unit price",
          "amount": "Net amount (USD)"}


def document(lines, **options) -> QuoteDocument:
    opts = DocumentOptions(**options)
    built = tuple(build_line(n, line, opts) for n, line in enumerate(lines, 1))
    zero = Decimal(0)
    totals = Totals(list=zero, one_time=zero, monthly=zero, annual=zero, recurring=zero, net=zero, discount=None,
                    tax=(), tax_total=zero, grand_total=zero, term_months=None)
    return QuoteDocument(
        number="Q-2026-000001", revision=1, state="sent", currency="USD", issue_date=date(2026, 1, 2),
        valid_until=None, payment_terms=None, delivery_terms=None, seller=Party(name="Seller"),
        buyer=Party(name="Buyer"), owner=None, groups=(Group(name=None, lines=built, subtotal=zero),),
        totals=totals, ruleset_version="a" * 64, document_hash=None, verify_url=None, options=opts)


def rows(doc):
    return [row for group in doc.groups for line in group.lines for row in (line.head, *line.items)]


def fields(figures: Figures, text: str) -> list[str]:
    """The text cut back into its columns (each column is `width` characters)."""
    out, start = [], 0
    for column in figures.columns:
        out.append(text[start:start + column.width])
        start += column.width
    assert start == len(text)
    return out


def test_every_value_ends_at_its_columns_right_edge_in_every_row():
    doc = document([STARTER, SINGLE])
    figures = Figures(doc, Formatter(locale_for("en", "US"), "USD"), LABELS)
    widths = sum(c.width for c in figures.columns)
    for row in rows(doc):
        text = figures.text(row)
        assert len(text) == widths  # one width for the whole table: the columns line up
        for cell in fields(figures, text):
            assert cell == cell.strip().rjust(len(cell)) and cell[:GAP] == " " * GAP
    single = fields(figures, figures.text(doc.groups[0].lines[1].head))
    assert [c.strip() for c in single] == ["4", "4,200.00", "9.76%", "3,790.00", "15,160.00"]


def test_a_column_is_as_wide_as_its_longest_value_or_its_headers_longest_word():
    doc = document([STARTER, SINGLE])
    figures = Figures(doc, Formatter(locale_for("en", "US"), "USD"), LABELS)
    by_key = {c.key: c.width for c in figures.columns}
    assert by_key["amount"] == len("19,330.00") + GAP
    assert by_key["discount"] == header_width("Discount") + GAP > len("9.76%") + GAP
    assert header_width("Netto-Einzelpreis") == header_width("Einzelpreis")  # labels wrap after hyphens
    assert header_width("单价数量") == header_width("单")  # CJK wraps between characters


def test_hidden_discounts_leave_quantity_net_unit_price_and_amount():
    doc = document([STARTER], hide_discounts=True)
    figures = Figures(doc, Formatter(locale_for("de", "DE"), "EUR"), LABELS)
    assert [c.key for c in figures.columns] == ["quantity", "unit_net", "amount"]
    assert [c.strip() for c in fields(figures, figures.text(doc.groups[0].lines[0].head))] == [
        "1", "19.330,00", "19.330,00"]


@pytest.mark.parametrize("hide_discounts", [False, True])
def test_hidden_component_prices_print_the_quantity_only(hide_discounts):
    doc = document([STARTER], hide_component_prices=True, hide_discounts=hide_discounts)
    figures = Figures(doc, Formatter(locale_for("en", "US"), "USD"), LABELS)
    server = next(row for row in rows(doc) if row.sku == "SRV-2U")
    assert [c.strip() for c in fields(figures, figures.text(server))] == ["3"] + [""] * (figures.span - 1)


def test_a_row_the_table_did_not_measure_still_prints():
    doc = document([SINGLE])
    figures = Figures(doc, Formatter(locale_for("en", "US"), "USD"), LABELS)
    head = doc.groups[0].lines[0].head
    assert figures.text(replace(head, quantity=5)).split()[0] == "5"
