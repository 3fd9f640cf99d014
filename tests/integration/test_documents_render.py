"""Quote PDFs at size and at their limits (SQLite): pagination, row/page/time limits, `cpq quote pdf`."""

from __future__ import annotations

import io
import logging
import os
import re
from decimal import Decimal

import pypdf
import pytest

from tests.conftest import bearer

SERVER = {"product": "SRV-2U", "options": [{"id": "CPU-16C"}, {"id": "MEM-64"}, {"id": "SSD-960"}, {"id": "PSU-800W"}]}
STARTER = {"product": "DC-STARTER", "options": [{"id": "SVC-STAGING"}, {"id": "SUP-BASIC"}],
           "components": [{"id": "server", "quantity": 3, "options": SERVER["options"]}, {"id": "tor", "quantity": 2}]}
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def sales(seeded):
    app, keys = seeded
    client = app.test_client()

    def call(method, path, json=None):
        return client.open(path, method=method, json=json, headers=bearer(keys["sales@example.com"]))

    call.app = app
    return call


def quote(sales, lines) -> str:
    created = sales("POST", "/api/v1/quotes", json={"account_id": "GLOBEX", "lines": lines})
    assert created.status_code == 201, created.json
    return created.json["number"]


def long_lines(count=60):
    """`count` server lines of six rows each (head, base unit, four options) in two groups."""
    return [{**SERVER, "id": str(n), "quantity": 1 + n % 3, "group": "Compute" if n <= 40 else "Spares"}
            for n in range(1, count + 1)]


def rendered_pages(sales, number: str, *, ledger_rows: int, parallel_rows: int | None, caplog) -> list[str]:
    """The quote's PDF text page by page, laid out as a table or a ledger, in one or two parts."""
    sales.app.config["PDF_LEDGER_ROWS"] = ledger_rows
    if parallel_rows:
        sales.app.config["PDF_PARALLEL_ROWS"] = parallel_rows
    caplog.set_level(logging.DEBUG, logger="cpq.documents.pdf")
    response = sales("GET", f"/api/v1/quotes/{number}.pdf")
    assert response.status_code == 200, response.json
    assert ("rendered 2 parts" in caplog.text) == bool(parallel_rows and (os.cpu_count() or 1) > 1)
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(response.data)).pages]


@pytest.mark.parametrize("parallel_rows", [None, 100], ids=["one renderer", "two parts in parallel"])
def test_a_long_quote_repeats_the_table_header_numbers_pages_and_never_splits_a_line(sales, parallel_rows, caplog):
    number = quote(sales, long_lines())
    # the table layout (360 rows would print as a ledger); 60 lines of 6 rows in two parts, pages
    # numbered over the whole
    texts = rendered_pages(sales, number, ledger_rows=10_000, parallel_rows=parallel_rows, caplog=caplog)
    total = len(texts)
    assert total >= 4
    for page, text in enumerate(texts, 1):
        assert f"Page {page} of {total}" in text
        assert f"Quote {number} · Revision 1" in text  # the running header
    table_pages = [t for t in texts if "Base unit" in t]
    assert len(table_pages) >= 3
    for text in table_pages:
        assert re.search(r"POS\. DESCRIPTION QTY", text), "the table header repeats on every page of the table"
        # each line is a bundle of a base unit and four options: a page holds whole lines only
        assert text.count("Base unit") == text.count("PSU-800W") == text.count("CPU-16C") // 1
    assert sum(t.count("Base unit") for t in texts) == 60
    positions = [int(p) for t in texts for p in re.findall(r"^(\d+) Rack server 2U", t, re.MULTILINE)]
    assert positions == list(range(1, 61)), "every line once, in order"
    document = "\n".join(texts)
    for once in ("Subtotal Compute", "Subtotal Spares", "Grand total", "Document hash", "Your contact"):
        assert document.count(once) == 1, once
    assert "Your contact" in texts[0] and "Grand total" in texts[-1]


@pytest.mark.parametrize("parallel_rows", [None, 100], ids=["one renderer", "two parts in parallel"])
def test_a_long_quote_prints_as_a_ledger_with_every_line_its_amounts_the_stored_totals_and_headers(
        sales, parallel_rows, caplog):
    from babel.numbers import format_currency

    created = sales("POST", "/api/v1/quotes", json={"account_id": "GLOBEX", "lines": long_lines()})
    number, priced = created.json["number"], created.json["priced"]
    texts = rendered_pages(sales, number, ledger_rows=100, parallel_rows=parallel_rows, caplog=caplog)  # 360 rows: a ledger
    total = len(texts)
    for page, text in enumerate(texts, 1):
        assert f"Page {page} of {total}" in text and f"Quote {number} · Revision 1" in text
    assert "Your contact" in texts[0] and "Base unit" not in texts[0], "the title page comes first"
    ledger_pages = [t for t in texts if "Base unit" in t]
    assert len(ledger_pages) >= 2
    for text in ledger_pages:
        assert re.search(r"POS\.\s+DESCRIPTION\s+QTY\s+UNIT LIST PRICE\s+DISCOUNT\s+NET UNIT PRICE", text), \
            "the column headers head every page of the ledger"
        assert text.count("Base unit") == text.count("PSU-800W") == text.count("CPU-16C"), "a line is never split"
    money = lambda amount: format_currency(amount, "USD", format="#,##0.00", locale="en_US")  # noqa: E731
    document = "\n".join(texts)
    heads = re.findall(r"^(\d+)\s+Rack server 2U SRV-2U\s+(\d+)\s.*?([\d,]+\.\d\d)$", document, re.MULTILINE)
    assert [int(p) for p, _, _ in heads] == list(range(1, 61)), "every line once, in order"
    for (_, quantity, amount), line in zip(heads, priced["lines"], strict=True):
        assert (int(quantity), amount) == (line["quantity"], money(line["total"])), "the stored line amounts"
    for group in ("Compute", "Spares"):
        subtotal = sum(Decimal(line["total"]) for line in priced["lines"] if line["group"] == group)
        assert re.search(rf"Subtotal {group}\s+{re.escape(money(subtotal))}$", document, re.MULTILINE), group
    grand_total = format_currency(priced["totals"]["grand_total"], "USD", locale="en_US")
    assert "Grand total" in texts[-1] and grand_total in texts[-1]
    assert sum(t.count("Base unit") for t in texts) == 60


def test_a_document_over_the_row_limit_is_refused_before_rendering(sales):
    number = quote(sales, [SERVER, STARTER])
    sales.app.config["PDF_MAX_ROWS"] = 5
    response = sales("GET", f"/api/v1/quotes/{number}.pdf")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "document_too_large" and "rows" in response.json["detail"]


@pytest.mark.parametrize("parallel_rows", [None, 5], ids=["one renderer", "two parts in parallel"])
def test_a_document_over_the_page_limit_is_refused_with_a_problem(sales, parallel_rows):
    number = quote(sales, [SERVER, STARTER])
    sales.app.config["PDF_MAX_PAGES"] = 1
    if parallel_rows:
        sales.app.config["PDF_PARALLEL_ROWS"] = parallel_rows
    response = sales("GET", f"/api/v1/quotes/{number}.pdf?waterfall=true")
    assert response.status_code == 422
    assert response.json["code"] == "document_too_large" and "at most 1" in response.json["detail"]


@pytest.mark.parametrize("parallel_rows", [None, 5], ids=["one renderer", "two parts in parallel"])
def test_a_rendering_that_runs_out_of_time_is_stopped_with_a_problem(sales, parallel_rows):
    number = quote(sales, [SERVER, STARTER])
    sales.app.config["PDF_TIME_LIMIT"] = 0.01
    if parallel_rows:
        sales.app.config["PDF_PARALLEL_ROWS"] = parallel_rows
    response = sales("GET", f"/api/v1/quotes/{number}.pdf?waterfall=true")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "render_timeout"


def test_the_cli_writes_the_same_document_offline(sales, cli, tmp_path):
    number = quote(sales, [SERVER])
    env = {"CPQ_DATABASE_URL": sales.app.config["DATABASE_URL"]}
    target = tmp_path / "quote.pdf"
    result = cli("quote", "pdf", number, "-o", str(target), "--lang", "de", "--paper", "letter", env=env)
    assert result.exit_code == 0, result.output
    reader = pypdf.PdfReader(target)
    assert "Angebot" in reader.pages[0].extract_text() and number in reader.pages[0].extract_text()
    assert round(float(reader.pages[0].mediabox.width)) == 612
    missing = cli("quote", "pdf", "Q-1999-000001", "-o", str(tmp_path / "x.pdf"), env=env)
    assert missing.exit_code == 1 and "not_found" in missing.output


def test_page_one_renders_to_a_non_blank_image(sales, tmp_path):
    """pdftoppm (poppler-utils, installed by `make`) rasterises page 1: it must show ink, not a blank page."""
    import shutil
    import subprocess

    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm is missing: `make test` installs poppler-utils")
    number = quote(sales, [SERVER])
    pdf = tmp_path / "quote.pdf"
    pdf.write_bytes(sales("GET", f"/api/v1/quotes/{number}.pdf").data)
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True)
    assert (tmp_path / "page-1.png").stat().st_size > 1000
    gray = subprocess.run(["pdftoppm", "-gray", "-r", "40", "-f", "1", "-l", "1", str(pdf)], check=True,
                          capture_output=True).stdout
    magic, _size, _depth, pixels = gray.split(b"\n", 3)  # binary PGM: P5, "w h", 255, pixels
    assert magic == b"P5"
    dark = sum(1 for value in pixels if value < 128)
    assert dark > 0.005 * len(pixels), "page 1 is (almost) blank"
