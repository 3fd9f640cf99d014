"""Quote PDF rendering times for 1, 100 and 1,000 lines, against baselines in the same run.

    PYTHONPATH=. python bench/pdf.py [--runs 3] [--sizes 1,100,1000] [--items 2] [--no-table]

A line is a product with one option (`--items 2`: a bundle of 2 priced items, printed as the bundle's
head row, its base unit and its option), as in bench/price.py. "cpq" is what the service does for
GET /api/v1/quotes/{id}.pdf from a stored revision: build the document, render the template, lay
out and write the PDF in a forked renderer (fonts warmed once) — from PDF_LEDGER_ROWS table rows on
(300) the lines print as a ledger (cpq/documents/ledger.py). "2 parts" is the same document laid out
as two parts in two renderer processes at the same time, which the service does from 600 table rows
on (cpq/documents/parts.py). Baselines, same run: "table" is the same document with its lines as the
table (the layout of every quote before the ledger; only where "cpq" is a ledger, `--no-table` skips
it); "plain" is WeasyPrint on the same cells as one bare HTML table: no stylesheet, no running header
or footer, no page counter, no nesting. Times are wall-clock medians; "cpu" adds the renderer
processes' CPU time to the benchmark's own (a shared, busy machine stretches wall time; CPU time is
the steadier figure). The load average is printed before and after. No database: pricing is not
measured.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


def priced_quote(lines: int, items: int) -> dict:
    """A stored priced revision of `lines` lines, each a product and `items - 1` options."""
    out = []
    for n in range(1, lines + 1):
        quantity = 1 + n % 4
        line_items = [{"sku": f"SRV-{n:04d}", "name": f"Rack server model {n}", "role": "product",
                       "quantity": quantity, "list": f"{4200 * quantity:.2f}", "net": f"{3790 * quantity:.2f}",
                       "total": f"{3790 * quantity:.2f}", "charge": "one_time", "term_months": None, "waterfall": [
                           {"kind": "list", "label": "List price", "before": None, "after": f"{4200 * quantity:.2f}",
                            "rule_id": "list-usd", "note": ""},
                           {"kind": "contract", "label": "Contract price", "before": f"{4200 * quantity:.2f}",
                            "after": f"{3790 * quantity:.2f}", "rule_id": "contract-globex", "note": ""}]}]
        for k in range(1, items):
            line_items.append({"sku": f"OPT-{k:03d}", "name": f"16-core 2.9 GHz processor, variant {k}",
                               "role": "option", "quantity": quantity, "list": f"{900 * quantity:.2f}",
                               "net": f"{900 * quantity:.2f}", "total": f"{900 * quantity:.2f}", "charge": "one_time",
                               "term_months": None, "waterfall": []})
        total = sum(Decimal(i["total"]) for i in line_items)
        out.append({"id": str(n), "product": f"SRV-{n:04d}", "name": f"Rack server model {n}", "quantity": quantity,
                    "group": str(n), "total": f"{total:.2f}", "items": line_items})
    net = sum(Decimal(line["total"]) for line in out)
    tax = (net * Decimal("0.0825")).quantize(Decimal("0.01"))
    lst = sum(Decimal(i["list"]) for line in out for i in line["items"])
    return {"ruleset_version": "5f5f18b595031159f7ef93047c4d4cb4648cbc0bc24efb2ef67ca62658221084", "term_months": None,
            "lines": out, "totals": {
                "list": f"{lst:.2f}", "one_time": f"{net:.2f}", "mrr": "0.00", "arr": "0.00", "net": f"{net:.2f}",
                "by_group": {}, "tax": [{"rate": "standard", "percent": "8.25%", "base": f"{net:.2f}", "tax": f"{tax}"}],
                "tax_total": f"{tax}", "grand_total": f"{net + tax:.2f}",
                "discount_percent": f"{((lst - net) / lst * 100).quantize(Decimal('0.01'))}%"}}


def document(priced: dict):
    from cpq.documents import content
    from cpq.documents.brands import load_brand

    brand = load_brand(TEMPLATES)
    doc = content.build_document(
        number="Q-2026-000123", revision=2, state="sent", currency="USD", issue_date=date(2026, 11, 25),
        valid_until=date(2026, 12, 31), payment_terms="Net 30", delivery_terms="DAP", owner=content.Contact("Sam Sales"),
        seller=content.Party(name=brand.name, address=brand.address, tax_id=brand.tax_id),
        buyer=content.Party(name="Globex Corporation", address="1 Globex Way", tax_id="US-94-1234567", country="US"),
        priced=priced, ruleset_version=priced["ruleset_version"], document_hash="ab" * 32,
        verify_url="https://cpq.example/api/v1/quotes/verify/" + "ab" * 32,
        accepted=None,
        options=content.DocumentOptions(paper="letter"))
    return doc, brand


def plain_html(priced: dict) -> str:
    """The same cells as the document's table, as one bare HTML table (the baseline)."""
    rows = []
    for line in priced["lines"]:
        rows.append(f"<tr><td>{line['id']}</td><td>{line['name']} {line['product']}</td><td>{line['quantity']}</td>"
                    f"<td>1.00</td><td>1%</td><td>1.00</td><td>{line['total']}</td></tr>")
        for item in line["items"]:
            rows.append(f"<tr><td></td><td>{item['name']} {item['sku']}</td><td>{item['quantity']}</td>"
                        f"<td>{item['list']}</td><td></td><td>{item['net']}</td><td>{item['total']}</td></tr>")
    return f"<html><body><table>{''.join(rows)}</table></body></html>"


def timed(func, runs: int) -> tuple[float, float, object]:
    """Median wall time, median CPU time of this process and its renderer children, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        start, cpu = time.perf_counter(), _cpu()
        result = func()
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per size; the median is printed")
    parser.add_argument("--sizes", default="1,100,1000")
    parser.add_argument("--items", type=int, default=2, help="priced items per line (product + options)")
    parser.add_argument("--no-table", action="store_true", help="skip the table-layout baseline of ledger sizes")
    args = parser.parse_args()

    import pypdf
    from weasyprint import HTML

    from cpq.documents.pdf import RenderLimits, render_pdf, warm_up

    start = time.perf_counter()
    warm_up(TEMPLATES)
    print(f"warm-up (fonts and a sample quote per language, once per process): {time.perf_counter() - start:.2f} s; "
          f"load average {_load()}")
    one = RenderLimits(seconds=600, parallel=1)
    two = RenderLimits(seconds=600, parallel=2)
    table = RenderLimits(seconds=600, parallel=1, ledger_rows=10**9)
    print(f"{'lines':>6} {'rows':>6} {'pages':>6} {'layout':>7} {'cpq':>8} {'cpu':>7} {'2 parts':>8} {'cpu':>7} "
          f"{'table':>8} {'cpu':>7} {'pages':>6} {'plain':>8} {'cpq/table cpu':>14} {'cpq/plain':>9}")
    for size in (int(s) for s in args.sizes.split(",")):
        priced = priced_quote(size, args.items)
        doc, brand = document(priced)
        ledger = one.ledger_for(doc.row_count)
        cpq_time, cpq_cpu, pdf = timed(lambda doc=doc, brand=brand: render_pdf(doc, brand, TEMPLATES, one), args.runs)
        pages = _pages(pypdf, pdf)
        if two.parts_for(doc.row_count) > 1:
            two_time, two_cpu, _ = timed(lambda doc=doc, brand=brand: render_pdf(doc, brand, TEMPLATES, two), args.runs)
            parts = f"{two_time:>7.2f}s {two_cpu:>6.1f}s"
        else:
            parts = f"{'—':>8} {'—':>7}"
        if ledger and not args.no_table:
            table_time, table_cpu, table_pdf = timed(
                lambda doc=doc, brand=brand: render_pdf(doc, brand, TEMPLATES, table), args.runs)
            tables = f"{table_time:>7.2f}s {table_cpu:>6.1f}s {_pages(pypdf, table_pdf):>6} "
            ratio = f"{cpq_cpu / table_cpu:>13.2f}×"
        else:
            tables, ratio = f"{'—':>8} {'—':>7} {'—':>6} ", f"{'—':>14}"
        html = plain_html(priced)
        plain_time, _, _ = timed(lambda html=html: HTML(string=html).write_pdf(), args.runs)
        print(f"{size:>6} {doc.row_count:>6} {pages:>6} {'ledger' if ledger else 'table':>7} {cpq_time:>7.2f}s "
              f"{cpq_cpu:>6.2f}s {parts} {tables}{plain_time:>7.2f}s {ratio} {cpq_time / plain_time:>8.2f}×",
              flush=True)
    print(f"load average {_load()}")


def _pages(pypdf, pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":  # the renderer forks: keep module-level code free of work
    main()
