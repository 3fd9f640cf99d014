"""The document template: text from the database is text, never markup or CSS."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from cpq.documents.brands import load_brand
from cpq.documents.content import (
    Contact,
    DocumentOptions,
    Group,
    Line,
    Party,
    QuoteDocument,
    Row,
    Totals,
)
from cpq.documents.pdf import DocumentPages, PageNumbers, render_html

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
EVIL = '<img src="file:///etc/passwd"><link rel="attachment" href="file:///etc/passwd"></style><style>*{x:1}'


def document(name: str = "Globex", terms: str = "Net 30", **options) -> QuoteDocument:
    head = Row(sku="SRV-2U", name=name, depth=0, role="line", quantity=1, unit_list=Decimal(10),
               unit_net=Decimal(10), amount=Decimal(10))
    zero = Decimal(0)
    totals = Totals(list=Decimal(10), one_time=Decimal(10), monthly=zero, annual=zero, recurring=zero,
                    net=Decimal(10), discount=None, tax=(), tax_total=zero, grand_total=Decimal(10), term_months=None)
    return QuoteDocument(
        number="Q-2026-000001", revision=1, state="sent", currency="USD", issue_date=date(2026, 1, 2),
        valid_until=None, payment_terms=terms, delivery_terms=None, seller=Party(name="Seller"),
        buyer=Party(name=name, address=name, country="US"), owner=Contact(name=name, email="x@example.com"),
        groups=(Group(name=name, lines=(Line(position=1, id="1", head=head, items=()),), subtotal=Decimal(10)),),
        totals=totals, ruleset_version="a" * 64, document_hash="b" * 64,
        verify_url="https://cpq.example/api/v1/quotes/verify/" + "b" * 64, options=DocumentOptions(**options))


def test_markup_in_names_and_terms_is_escaped():
    html = render_html(document(name=EVIL, terms=EVIL), load_brand(TEMPLATES), TEMPLATES)
    assert "<img" not in html.split("<body>", 1)[1].replace('<img src="brands/default/logo.svg"', "")
    assert 'rel="attachment"' not in html
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html
    assert html.count("</style>") == 1


@pytest.mark.parametrize(("language", "label"), [("en", "Grand total"), ("de", "Gesamtbetrag"), ("zh", "总计")])
def test_labels_come_in_the_documents_language(language, label):
    html = render_html(document(language=language), load_brand(TEMPLATES), TEMPLATES)
    assert label in html


def test_letter_paper_and_a_verification_qr_code():
    html = render_html(document(paper="letter"), load_brand(TEMPLATES), TEMPLATES)
    assert "size: letter" in html
    assert "<svg" in html and "https://cpq.example/api/v1/quotes/verify/" in html


def test_hidden_discounts_leave_no_list_price_column():
    html = render_html(document(hide_discounts=True), load_brand(TEMPLATES), TEMPLATES)
    assert "Unit list price" not in html and "Unit price" in html


def test_a_part_of_a_long_document_has_no_page_counter_and_its_page_numbers_start_where_the_last_part_ended():
    pages = DocumentPages(document(), load_brand(TEMPLATES), TEMPLATES)
    assert "@bottom-right { content: none; }" in pages.html(numbers=PageNumbers(printed=False))
    numbers = pages.numbers_html(41, 3, 78)
    assert numbers.count("<div></div>") == 3 and "counter-reset: page 41" in numbers
    assert '"Page " counter(page) " of " "78"' in numbers
    assert "counter-reset" not in pages.html()
