"""Quote PDFs at size and at their limits (SQLite): pagination, row/page/time limits, `cpq quote pdf`."""

from __future__ import annotations

import io
import logging
import os
import re

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


@pytest.mark.parametrize("parallel_rows", [None, 100], ids=["one renderer", "two parts in parallel"])
def test_a_long_quote_repeats_the_table_header_numbers_pages_and_never_splits_a_line(sales, parallel_rows, caplog):
    lines = [{**SERVER, "id": str(n), "quantity": 1 + n % 3, "group": "Compute" if n <= 40 else "Spares"}
             for n in range(1, 61)]
    number = quote(sales, lines)
    if parallel_rows:  # 60 lines of 6 rows: laid out as two parts, pages numbered over the whole
        sales.app.config["PDF_PARALLEL_ROWS"] = parallel_rows
    caplog.set_level(logging.DEBUG, logger="cpq.documents.pdf")
    response = sales("GET", f"/api/v1/quotes/{number}.pdf")
    assert response.status_code == 200, response.json
    assert ("rendered 2 parts" in caplog.text) == bool(parallel_rows and (os.cpu_count() or 1) > 1)
    texts = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(response.data)).pages]
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
