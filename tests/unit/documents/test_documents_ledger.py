"""The ledger of a long quote: one monospace line per row, cut into pages of whole quote lines."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

from cpq.documents import content, ledger
from cpq.documents.brands import load_brand
from cpq.documents.ledger import LINE_HEIGHT, Ledger, cells, wrap
from cpq.documents.pdf import DocumentPages, RenderLimits, render_pdf

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
EVIL = '<img src="file:///etc/passwd"></pre><style>*{x:1}</style>'


def priced(count: int, name=lambda n: f"Rack server model {n}", groups=("Compute", "Spares"), charge="monthly") -> dict:
    """`count` bundles (product + one option charged `charge`), the first half in one group, the rest in another."""
    lines = []
    for n in range(1, count + 1):
        quantity = 1 + n % 3
        items = [{"sku": f"SRV-{n:04d}", "name": name(n), "role": "product", "quantity": quantity,
                  "list": f"{4200 * quantity}.00", "net": f"{3790 * quantity}.00", "total": f"{3790 * quantity}.00",
                  "charge": "one_time", "term_months": None, "waterfall": []},
                 {"sku": "OPT-001", "name": "16-core processor", "role": "option", "quantity": quantity,
                  "list": f"{900 * quantity}.00", "net": f"{900 * quantity}.00", "total": f"{900 * quantity}.00",
                  "charge": charge, "term_months": 36, "waterfall": []}]
        lines.append({"id": str(n), "product": f"SRV-{n:04d}", "name": name(n), "quantity": quantity,
                      "group": groups[0] if n <= count // 2 else groups[1],
                      "total": f"{4690 * quantity}.00", "items": items})
    net = sum(Decimal(line["total"]) for line in lines)
    return {"ruleset_version": "a" * 64, "term_months": 36, "lines": lines, "totals": {
        "list": f"{net * 2}", "one_time": f"{net}", "mrr": "0", "arr": "0", "net": f"{net}", "by_group": {},
        "tax": [], "tax_total": "0.00", "grand_total": f"{net}", "discount_percent": "50%"}}


def document(count: int = 40, buyer: str = "Globex", **options) -> content.QuoteDocument:
    return content.build_document(
        number="Q-2026-000001", revision=1, state="sent", currency="USD", issue_date=date(2026, 1, 2),
        valid_until=None, payment_terms="Net 30", delivery_terms=None, seller=content.Party(name="Seller"),
        buyer=content.Party(name=buyer, country="US"), owner=content.Contact("Sam"),
        priced=options.pop("priced", None) or priced(count), ruleset_version="a" * 64, document_hash="b" * 64,
        verify_url="https://cpq.example/v/" + "b" * 64, accepted=None,
        options=content.DocumentOptions(**options))


def ledger_of(doc) -> Ledger:
    return DocumentPages(doc, load_brand(TEMPLATES), TEMPLATES, as_ledger=True).ledger


def all_lines(led: Ledger):
    return [line for page in led.whole() for line in page.lines]


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_every_row_is_one_line_of_the_pages_width_with_each_figure_ending_at_its_columns_edge(paper):
    led = ledger_of(document(12, paper=paper, priced=priced(12, charge="one_time")))
    rows = [line for line in all_lines(led) if line.kind in ("head", "item")]
    assert len(rows) == 12 * 3
    edges = [led.position_width + led.description_width]
    for width in led.figure_widths:
        edges.append(edges[-1] + width)
    assert edges[-1] <= led.width
    assert {cells(line.text) for line in rows} == {edges[-1]}
    for line in rows:
        if line.kind == "head":  # a head row has every figure: each ends at its column's right edge
            assert all(line.text[edge - 1] != " " and line.text[edge] == " " for edge in edges[1:-1])
    head = next(line.text for line in rows if line.kind == "head")
    assert head.startswith("1 ") and head.endswith("9,380.00")


def test_a_long_description_wraps_inside_its_column_and_only_its_first_line_has_figures():
    doc = document(2, priced=priced(2, name=lambda n: "Very long product name " * 6 + str(n)))
    led = ledger_of(doc)
    first = led.whole()[0].lines
    assert first[0].kind == "group" and "Compute" in first[0].text
    head, *more = [line for line in first[:[line.kind for line in first].index("item")] if line.kind == "head"]
    assert len(more) >= 2, "the head row wraps into continuation lines"
    assert re.search(r"9,380\.00$", head.text) and all(not re.search(r"\d\.\d\d$", m.text) for m in more)
    assert all(cells(m.text.rstrip()) <= led.position_width + led.description_width for m in more)


def test_cjk_characters_take_two_cells_and_print_in_a_span_that_makes_them_two_cells_wide():
    assert cells("报价 ab") == 7
    assert wrap("报价单报价单", 5) == ["报价", "单报", "价单"]
    led = ledger_of(document(4, priced=priced(4, name=lambda n: f"机架式服务器 {n}"), language="zh"))
    rows = [line for line in all_lines(led) if line.kind in ("head", "item")]
    assert len({cells(line.text) for line in rows}) == 1, "every row is as wide, in cells"
    markup = str(rows[0].markup())
    assert '<span class="w">机架式服务器</span>' in markup and markup.startswith('<b class="head">')


def test_text_from_the_quote_is_escaped_in_the_ledger():
    led = ledger_of(document(4, priced=priced(4, name=lambda n: EVIL, groups=(EVIL, EVIL))))
    markup = "".join(str(page.markup()) for page in led.whole())
    assert "<img" not in markup and "<style>" not in markup and "</pre>" not in markup
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in markup


def test_pages_hold_whole_quote_lines_with_a_groups_name_and_subtotal_beside_its_lines():
    led = ledger_of(document(150, priced=priced(150, charge="one_time")))
    pages = led.whole()
    assert len(pages) >= 3
    for page in pages:
        assert len(page.lines) <= led.lines_per_page
        kinds = [line.kind for line in page.lines]
        assert kinds[0] in ("head", "group") and kinds[-1] in ("item", "subtotal"), "no line is cut in two"
    kinds = [line.kind for page in pages for line in page.lines]
    assert kinds.count("head") == 150 and kinds.count("group") == 2 and kinds.count("subtotal") == 2
    assert kinds[kinds.index("group") + 1] == "head", "a group's name stays with its first line"
    lines = all_lines(led)
    assert {cells(x.text) for x in lines if x.kind == "subtotal"} == {cells(x.text) for x in lines if x.kind == "head"}, \
        "a subtotal ends under the amounts"


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_a_ledger_page_and_its_headers_fit_the_page_area(paper):
    led = ledger_of(document(10, paper=paper))
    _, page_height = ledger.PAPER_PT[paper]
    top, _, bottom, _ = (ledger.mm(m) for m in ledger.MARGIN_MM)
    used = (len(led.header) + led.lines_per_page + ledger.SPARE_LINES) * LINE_HEIGHT + ledger.HEADER_RULE
    assert used + ledger.HEADER_GAP <= page_height - top - bottom


def test_parts_of_a_ledger_are_whole_pages_in_order_the_first_with_the_title_the_last_with_the_totals():
    led = ledger_of(document(300))
    first, second = led.split(2)
    pages = len(led.whole())
    assert first.pages[0] == 0 and first.pages[1] == second.pages[0] and second.pages[1] == pages
    assert abs((first.pages[1] + 1) - (pages - second.pages[0] + 1)) <= 2, "about equal pages, title and totals included"
    assert first.first and second.last and not first.last
    (only,) = led.split(1)
    assert only.pages == (0, pages) and only.first and only.last


def test_hidden_discounts_leave_three_figure_columns():
    led = ledger_of(document(3, hide_discounts=True))
    assert len(led.figure_widths) == 3
    assert "DISCOUNT" not in " ".join(led.header) and "UNIT LIST PRICE" not in " ".join(led.header)


def test_long_quotes_print_as_a_ledger_by_their_size_only():
    limits = RenderLimits(ledger_rows=300)
    assert not limits.ledger_for(299) and limits.ledger_for(300)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_pages_cut_in_python_are_the_pages_weasyprint_prints(language):
    """Every ledger page prints on a page of its own: no page overflows onto a page without headers."""
    names = (lambda n: f"机架式服务器型号 {n} " * (1 + n % 3)) if language == "zh" else (lambda n: f"Server {n} " * (1 + n % 5))
    doc = document(90, priced=priced(90, name=names), language=language, paper="a4")
    led = ledger_of(doc)
    pdf = render_pdf(doc, load_brand(TEMPLATES), TEMPLATES, RenderLimits(isolate=False, ledger_rows=1))
    texts = [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]
    header = "序号" if language == "zh" else "POS."
    with_rows = [t for t in texts if "SRV-0" in t]
    assert len(with_rows) == len(led.whole())
    assert all(header in t for t in with_rows)
    for page, text in zip(led.whole(), with_rows, strict=True):
        heads = [line.text.split()[0] for line in page.lines if line.kind == "head" and line.text[0] != " "]
        assert heads[0] in text and heads[-1] in text
    if language == "zh":  # the CJK runs are real glyphs of an embedded CJK font, and extract as words
        reader = pypdf.PdfReader(io.BytesIO(pdf))
        fonts = {str(font["/BaseFont"]) for font in reader.pages[1]["/Resources"]["/Font"].values()}
        assert any("Noto-Sans-CJK-SC" in f or "NotoSansCJKsc" in f for f in fonts), fonts
        assert "机架式服务器型号 1" in with_rows[0] and "基本单元" in with_rows[0]
