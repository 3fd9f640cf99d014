"""Render a QuoteDocument: Jinja2 (autoescaped) → HTML → WeasyPrint → PDF, within limits.

Every rendering is bounded three ways: the rows it would lay out are counted before anything is
built (`max_rows`), the pages are counted after layout and before the PDF is written (`max_pages`),
and the layout and writing run in a forked child process (warm: the fonts are loaded in the parent
once) that is killed when `seconds` run out — so a pathological document costs at most that much
time and never takes the service down with it. A child that fails or is killed becomes a problem
answer (`document_too_large`, `render_timeout`, `render_failed`).
"""

from __future__ import annotations

import gc
import io
import logging
import multiprocessing
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from cpq.documents import formatting, ledger, parts
from cpq.documents.brands import Brand
from cpq.documents.content import QuoteDocument, Row
from cpq.documents.errors import RENDER_ERRORS, DocumentTooLarge, RenderFailed, RenderTimeout
from cpq.documents.figures import Figures
from cpq.documents.parts import Part
from cpq.errors import CPQError

log = logging.getLogger(__name__)

TEMPLATE = "quote/quote.html"
STYLESHEET_LINK = '<link rel="stylesheet" href="quote/quote.css">'  # as the template writes it
PAGE_SIZES = {"a4": "A4", "letter": "letter"}
FONTS = {  # Inter for Latin text; Noto Sans CJK (Debian fonts-noto-cjk) for Chinese, first for zh
    "en": '"Inter", "DejaVu Sans", "Noto Sans CJK SC", sans-serif',
    "de": '"Inter", "DejaVu Sans", "Noto Sans CJK SC", sans-serif',
    "zh": '"Noto Sans CJK SC", "Inter", "DejaVu Sans", sans-serif',
}
HTML_LANG = {"en": "en", "de": "de", "zh": "zh-Hans"}
ISSUED_STATES = ("sent", "accepted", "ordering", "ordered", "order_failed")  # no watermark
N_ = formatting.N_
STATE_LABELS = {
    "draft": N_("Draft"), "pending_approval": N_("Pending approval"), "approved": N_("Approved, not sent"),
    "rejected": N_("Rejected"), "sent": N_("Sent"), "superseded": N_("Superseded"), "expired": N_("Expired"),
    "declined": N_("Declined"), "accepted": N_("Accepted"), "ordered": N_("Ordered"),
    "ordering": N_("Accepted"), "order_failed": N_("Accepted"),
}


@dataclass(frozen=True)
class RenderLimits:
    """How much one rendering may cost (rows before, pages after layout, seconds for all of it)."""

    max_rows: int = 20_000
    max_pages: int = 1_000
    seconds: float = 20.0
    isolate: bool = True  # render in a child process that is killed at the time limit
    parallel: int = 2  # at most this many renderer processes lay out one long document (one per core)
    parallel_rows: int = 600  # from this many table rows on, a document is laid out in parts
    ledger_rows: int = 300  # from this many table rows on, the lines print as a ledger (cpq/documents/ledger.py)

    def ledger_for(self, rows: int) -> bool:
        """Whether a document of `rows` table rows prints its lines as a ledger (by its size only)."""
        return rows >= self.ledger_rows

    def parts_for(self, rows: int) -> int:
        """In how many parts a document of `rows` table rows is laid out (each in its own process).

        It depends on the document and the settings only, never on how busy the machine is, so the
        same quote always gets the same pages.
        """
        cores = os.cpu_count() or 1
        if not self.isolate or rows < self.parallel_rows or min(self.parallel, cores) < 2:
            return 1
        return min(self.parallel, cores)

    @classmethod
    def from_settings(cls, settings) -> RenderLimits:
        """Limits from app config / environment (`PDF_MAX_ROWS`, `PDF_MAX_PAGES`, `PDF_TIME_LIMIT`, …)."""
        def get(name, default, kind):
            value = settings.get(name) if settings is not None else None
            if value is None:
                value = os.environ.get(f"CPQ_{name}")
            return default if value is None else kind(value)

        return cls(max_rows=get("PDF_MAX_ROWS", cls.max_rows, int),
                   max_pages=get("PDF_MAX_PAGES", cls.max_pages, int),
                   seconds=get("PDF_TIME_LIMIT", cls.seconds, float),
                   isolate=str(get("PDF_ISOLATE", "1", str)).lower() not in ("0", "false", "no"),
                   parallel=get("PDF_PARALLEL", cls.parallel, int),
                   parallel_rows=get("PDF_PARALLEL_ROWS", cls.parallel_rows, int),
                   ledger_rows=get("PDF_LEDGER_ROWS", cls.ledger_rows, int))


_env_lock = threading.Lock()
_environments: dict[tuple[str, str], Environment] = {}


def environment(templates_dir: str | Path, language: str) -> Environment:
    """The Jinja2 environment of one language: autoescaping on, labels from that language's catalog."""
    key = (str(templates_dir), language)
    with _env_lock:
        env = _environments.get(key)
        if env is None:
            env = Environment(loader=FileSystemLoader(str(templates_dir)), autoescape=True,
                              undefined=StrictUndefined, extensions=["jinja2.ext.i18n"],
                              trim_blocks=True, lstrip_blocks=True, auto_reload=True)
            env.install_gettext_translations(
                formatting.translations(Path(templates_dir) / "quote" / "locale", language), newstyle=True)
            _environments[key] = env
        return env


def qr_svg(url: str, color: str) -> Markup:
    """The verification URL as an inline SVG QR code (generated here: it carries no user text)."""
    code = segno.make(url, error="m")
    svg = code.svg_inline(scale=1, border=0, dark=color, omitsize=True)
    return Markup(svg)  # segno's own markup of a URL we built


def page_css(doc: QuoteDocument, brand: Brand, page_label: str, numbers: PageNumbers | None = None) -> Markup:
    """The page rules that depend on the document: paper, brand colours, fonts, the page counter.

    Only checked values reach this CSS: the paper is one of two names, colours matched #rrggbb when
    the brand was read, the translated page label is escaped as a CSS string, and page numbers are
    integers. `numbers` None prints WeasyPrint's own counters ("Page 3 of 9").
    """
    c = brand.colors
    language = doc.options.language
    numbers = numbers or PageNumbers()
    if numbers.printed:
        counter = formatting.page_counter_css(page_label, numbers.total)
        first = f"@page :first {{ counter-reset: page {int(numbers.first)}; }}" if numbers.first != 1 else ""
    else:
        counter, first = "none", ""
    margins = " ".join(f"{m:g}mm" for m in ledger.MARGIN_MM)
    css = f"""
@page {{ size: {PAGE_SIZES[doc.options.paper]}; margin: {margins}; font-family: {FONTS[language]};
  @bottom-right {{ content: {counter}; }} }}
{first}
html {{ font-family: {FONTS[language]}; color: {c["text"]}; }}
.brand-primary, h1, .lines thead th, .totals .grand td {{ color: {c["primary"]}; }}
.lines thead th {{ border-bottom-color: {c["primary"]}; }}
.totals .grand td {{ border-top-color: {c["primary"]}; }}
.accent-bar {{ background: {c["accent"]}; }}
.muted, .sku, .note, .running-footer, .meta th, .party h2 {{ color: {c["muted"]}; }}
.lines tbody.line {{ border-bottom-color: {c["rule"]}; }}
.lines tr.group td, .lines tr.subtotal td, .panel {{ background: {c["shade"]}; }}
.ledger-head, .ledger b.group {{ color: {c["primary"]}; border-bottom-color: {c["primary"]}; }}
.ledger b.head, .ledger b.subtotal {{ color: {c["text"]}; }}
"""
    return Markup(css)  # built from checked values only (see docstring)


@dataclass(frozen=True)
class PageNumbers:
    """How the footer numbers pages: WeasyPrint's counters, not at all, or from `first` of `total`."""

    printed: bool = True
    first: int = 1
    total: int | None = None  # None: the document's own page count


def _ledger_description(gettext) -> Callable[[Row], str]:
    """How a ledger prints a row's description: as the table does (base unit, name, SKU, charge), in one text."""
    months = gettext("%(months)s months")
    notes = {"monthly": f" · {gettext('per month')}, {months}", "annual": f" · {gettext('per year')}, {months}",
             "bundle": f" · {gettext('incl. recurring charges over the term')}"}
    base_unit = gettext("Base unit")

    def describe(row: Row) -> str:
        note = notes.get(row.charge, "")
        if "%(months)s" in note:
            note = note % {"months": row.term_months}
        prefix = f"{base_unit} · " if row.role == "base" else ""
        return f"{prefix}{row.name} {row.sku}{note}"

    return describe


class DocumentPages:
    """Renders the HTML of a document, whole or in parts (cpq/documents/parts.py), and its page numbers."""

    def __init__(self, doc: QuoteDocument, brand: Brand, templates_dir: str | Path, as_ledger: bool = False):
        """`as_ledger` prints the lines as a ledger of monospace lines instead of a table (long quotes)."""
        self.doc, self.brand, self.templates_dir = doc, brand, templates_dir
        language = doc.options.language
        self.env = environment(templates_dir, language)
        translations = formatting.translations(Path(templates_dir) / "quote" / "locale", language)
        self.page_label = translations.gettext("Page %(page)s of %(pages)s")
        locale = formatting.locale_for(language, doc.buyer.country)
        fmt = formatting.Formatter(locale, doc.currency)
        issued = doc.document_hash is not None
        watermark = None if doc.state in ISSUED_STATES else doc.state
        gettext = translations.gettext

        def state_label(state: str) -> str:
            return gettext(STATE_LABELS.get(state, state))

        def country_name(code: str) -> str:
            return locale.territories.get(code.upper(), code)

        # the column labels of the lines (table or ledger); the figure columns are the same in every part
        self.labels = {"position": gettext("Pos."), "description": gettext("Description"), "quantity": gettext("Qty"),
                       "unit_list": gettext("Unit list price"), "discount": gettext("Discount"),
                       "unit_net": gettext("Unit price") if doc.options.hide_discounts else gettext("Net unit price"),
                       "amount": f"{gettext('Net amount')} ({doc.currency})"}
        self.figures = Figures(doc, fmt, self.labels)
        self.ledger = ledger.Ledger(doc, self.figures, self.labels, _ledger_description(gettext),
                                    lambda group: gettext("Subtotal %(group)s") % {"group": group}) if as_ledger else None

        self.context = dict(
            doc=doc, brand=brand, fmt=fmt, lang=language, html_lang=HTML_LANG[language],
            state_label=state_label, country_name=country_name, labels=self.labels, figures=self.figures,
            ledger=self.ledger,
            issued=issued, watermark=watermark,
            qr=qr_svg(doc.verify_url, brand.colors["text"]) if issued and doc.verify_url else None,
            footer=brand.footer_for(language), legal=brand.legal_for(language))

    def html(self, part: Part | None = None, numbers: PageNumbers | None = None) -> str:
        """The HTML of `part` (default: the whole document)."""
        return self.env.get_template(TEMPLATE).render(
            part=part or parts.whole(self.doc), page_css=page_css(self.doc, self.brand, self.page_label, numbers),
            **self.context)

    def numbers_html(self, first: int, count: int, total: int) -> str:
        """`count` pages that print only their footer's page numbers, `first` to `first + count - 1` of `total`."""
        css = page_css(self.doc, self.brand, self.page_label, PageNumbers(first=first, total=total))
        return (f'<!doctype html><html lang="{HTML_LANG[self.doc.options.language]}"><head><meta charset="utf-8">'
                f'{STYLESHEET_LINK}<style>{css}\nbody > div {{ break-before: page; }}'
                f"</style></head><body>{'<div></div>' * count}</body></html>")


def render_html(doc: QuoteDocument, brand: Brand, templates_dir: str | Path, as_ledger: bool = False) -> str:
    """The document as HTML; every text from the database is autoescaped by the template (or, in a
    ledger, escaped by cpq/documents/ledger.py)."""
    return DocumentPages(doc, brand, templates_dir, as_ledger).html()


_fonts_lock = threading.Lock()
_shared_fonts = None  # the renderers' font configuration: made warm once here, inherited by every fork
_thread_fonts = threading.local()


def font_configuration(shared: bool):
    """A WeasyPrint font configuration (fontconfig set-up and the Pango font map with its caches).

    Making one loads the fontconfig configuration and starts with cold font caches: 0.1–0.2 s of a
    1-page quote. So it is made once: `shared` is the one that `warm_up` warms and that forked
    renderers inherit (one thread each); in-process rendering (`PDF_ISOLATE` off) uses one per
    thread, as Pango's font map is not safe to share between threads.
    """
    global _shared_fonts
    from weasyprint.text.fonts import FontConfiguration

    if shared:
        with _fonts_lock:
            if _shared_fonts is None:
                _shared_fonts = FontConfiguration()
            return _shared_fonts
    config = getattr(_thread_fonts, "config", None)
    if config is None:
        config = _thread_fonts.config = FontConfiguration()
    return config


_stylesheets_lock = threading.Lock()
_stylesheets: dict[str, tuple[float, object]] = {}


def _quote_stylesheet(root: Path, fetcher):
    """templates/quote/quote.css parsed once per process (and file change), not once per rendering.

    Parsing it is about 15 % of a 1-page quote. It is given to WeasyPrint as a user stylesheet
    instead of the document's link: the document's own style block (paper, brand colours, page
    counter) then wins over it wherever both set a property, as it did by coming later.
    """
    from weasyprint import CSS

    path = root / "quote" / "quote.css"
    mtime = path.stat().st_mtime
    with _stylesheets_lock:
        cached = _stylesheets.get(str(path))
        if cached is None or cached[0] != mtime:
            cached = _stylesheets[str(path)] = (mtime, CSS(url=path.as_uri(), url_fetcher=fetcher))
        return cached[1]


def _layout(html: str, templates_dir: str | Path, shared_fonts: bool = True):
    from weasyprint import HTML

    from cpq.documents.fetcher import TemplateFetcher

    root = Path(os.path.realpath(templates_dir))
    fetcher = TemplateFetcher(root)
    stylesheets = []
    if STYLESHEET_LINK in html:
        html = html.replace(STYLESHEET_LINK, "", 1)
        stylesheets.append(_quote_stylesheet(root, fetcher))
    return HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=fetcher).render(
        font_config=font_configuration(shared_fonts), stylesheets=stylesheets)


def _check_pages(pages: int, max_pages: int) -> None:
    if pages > max_pages:
        raise DocumentTooLarge(f"the document has {pages} pages; at most {max_pages} are rendered",
                               pages=pages, max_pages=max_pages)


def _layout_and_write(html: str, templates_dir: Path, max_pages: int, shared_fonts: bool = True) -> bytes:
    document = _layout(html, templates_dir, shared_fonts)
    _check_pages(len(document.pages), max_pages)
    return document.write_pdf()


def stamp_pages(pdf: bytes, overlay: bytes) -> bytes:
    """`pdf` with page *i* of `overlay` drawn over its page *i* (both have the same page count)."""
    import pypdf

    document = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    for page, numbers in zip(document.pages, pypdf.PdfReader(io.BytesIO(overlay)).pages, strict=True):
        page.merge_page(numbers)
        page.compress_content_streams()  # merging wrote the page's content back uncompressed
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def join_pdfs(pdfs: list[bytes]) -> bytes:
    """The pages of `pdfs` in order as one PDF, with the first one's document information (title, author)."""
    import pypdf

    readers = [pypdf.PdfReader(io.BytesIO(pdf)) for pdf in pdfs]
    document = pypdf.PdfWriter(clone_from=readers[0])
    for reader in readers[1:]:
        document.append(reader)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


_warm_lock = threading.Lock()
_warm: set[str] = set()
WARM_UP_HTML = """<html><body style="font-family: {fonts}">
<p>Quote 0123456789 <b>Total</b> <span style="font-weight: 600">Net</span> <span style="font-weight: 500">x</span>
<i>note</i> 报价单 合计 <span style="font-family: 'DejaVu Sans Mono'">0f1e</span></p>
<svg width="10" height="10"><path d="M0 0h10v10z"/></svg></body></html>"""
_SAMPLE_ITEM = {"sku": "SAMPLE-1", "name": "Sample 报价", "role": "product", "quantity": 2, "list": "20.00",
                "net": "18.00", "total": "18.00", "charge": "one_time", "term_months": None, "waterfall": []}
SAMPLE_PRICED = {  # one bundle in a group with a recurring option: every style of the template is used
    "ruleset_version": "0" * 64, "term_months": 12,
    "lines": [{"id": "1", "product": "SAMPLE-1", "name": "Sample 报价", "quantity": 2, "group": "Sample",
               "total": "30.00", "items": [_SAMPLE_ITEM, {**_SAMPLE_ITEM, "sku": "SAMPLE-2", "role": "option",
                                                          "charge": "monthly", "term_months": 12, "total": "12.00"}]}],
    "totals": {"list": "40.00", "one_time": "18.00", "mrr": "1.00", "arr": "12.00", "net": "30.00", "by_group": {},
               "tax": [{"rate": "standard", "percent": "10%", "base": "30.00", "tax": "3.00"}], "tax_total": "3.00",
               "grand_total": "33.00", "discount_percent": "25%"}}


def _sample_document(language: str) -> QuoteDocument:
    from datetime import date

    from cpq.documents import content

    party = content.Party(name="Sample 报价", address="1 Sample Street", tax_id="X-1", country="US")
    return content.build_document(
        number="Q-0000-000000", revision=1, state="sent", currency="USD", issue_date=date(2026, 1, 1),
        valid_until=date(2026, 1, 31), payment_terms="Net 30", delivery_terms="DAP",
        owner=content.Contact("Sample", "sample@example.com"), seller=party, buyer=party, priced=SAMPLE_PRICED,
        ruleset_version="0" * 64, document_hash="0" * 64, verify_url="https://cpq.example/verify/" + "0" * 64,
        accepted=None, options=content.DocumentOptions(language=language))


def warm_up(templates_dir: str | Path | None = None, language: str | None = None) -> None:
    """Load WeasyPrint and the document fonts once in this process, so that forked renderers start warm.

    A child's caches die with it: without this, every isolated rendering would pay for loading the
    fonts and filling the font caches again. With `templates_dir`, a sample quote is rendered (in
    `language`, else in every language; each once), as a table and as a ledger, so that the fonts
    of every style the template uses (families, weights, sizes) are loaded and cached in the
    shared font configuration.
    """
    from weasyprint import HTML

    from cpq.documents.brands import load_brand

    with _warm_lock:
        fonts = font_configuration(shared=True)
        if "fonts" not in _warm:
            for stack in sorted(set(FONTS.values())):
                HTML(string=WARM_UP_HTML.format(fonts=stack.replace('"', "'"))).write_pdf(font_config=fonts)
            _warm.add("fonts")
        if templates_dir is None:
            return
        languages = [x for x in ([language] if language else FONTS)
                     if f"{os.path.realpath(templates_dir)} {x}" not in _warm]
        _warm.update(f"{os.path.realpath(templates_dir)} {x}" for x in languages)
        try:
            brand = load_brand(templates_dir)
            for sample in languages:
                for as_ledger in (False, True):
                    html = DocumentPages(_sample_document(sample), brand, templates_dir, as_ledger).html()
                    _layout(html, templates_dir).write_pdf()
        except Exception:  # noqa: BLE001 - warming is an optimisation; the real rendering reports its errors
            log.warning("warming the document renderer up failed", exc_info=True)


def _report(conn, work) -> None:
    """Run `work` in a renderer process; send its failure back like every other answer."""
    # The child shares the parent's memory until it writes to it. A full garbage collection would
    # walk (and so copy) every object the service holds; frozen, it only walks the renderer's own.
    gc.freeze()
    try:
        work()
    except CPQError as exc:
        conn.send(("error", (exc.code, exc.detail)))
    except BaseException as exc:  # noqa: BLE001 - everything the renderer raises is reported, then logged
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _render_child(html: str, templates_dir: str, max_pages: int, conn) -> None:
    """The body of a renderer process: lay out, write, and send back the bytes or the error."""
    _report(conn, lambda: conn.send(("ok", _layout_and_write(html, Path(templates_dir), max_pages))))


def _part_child(pages: DocumentPages, part: Part, max_pages: int, conn) -> None:
    """A renderer of one part: render its HTML, lay it out, send the page count, then write the PDF with
    the page numbers it is sent."""
    def work():
        templates_dir = pages.templates_dir
        document = _layout(pages.html(part, PageNumbers(printed=False)), templates_dir)
        _check_pages(len(document.pages), max_pages)
        conn.send(("pages", len(document.pages)))
        numbers_html = conn.recv()
        pdf = document.write_pdf()
        conn.send(("ok", stamp_pages(pdf, _layout(numbers_html, templates_dir).write_pdf())))

    _report(conn, work)


def _start(context, target, args, name: str):
    with warnings.catch_warnings():
        # Python warns that forking a process with threads (durable_rules runs timer threads) may
        # deadlock the child on a lock another thread held. The child only lays out and writes the
        # PDF (WeasyPrint, Pango, fontconfig — used by no other thread here) and is killed at the
        # time limit, so the worst case is a render_timeout answer. See docs/documents.md.
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        process = context.Process(target=target, args=args, name=name, daemon=True)
        process.start()
    return process


def _receive(process, conn, deadline: float, seconds: float, expected: str):
    """The renderer's next answer if it is `expected`; its error, a timeout or a crash as a CPQError."""
    try:
        if not conn.poll(max(0.0, deadline - time.monotonic())):
            raise RenderTimeout(f"rendering was stopped after {seconds:g} s; ask for fewer lines, or without "
                                "the waterfall appendix", seconds=seconds)
        status, payload = conn.recv()
    except EOFError:
        process.join(1)
        raise RenderFailed(f"the renderer stopped without an answer (exit code {process.exitcode})") from None
    if status == expected:
        return payload
    if status == "error":
        code, detail = payload
        raise RENDER_ERRORS.get(code, RenderFailed)(detail)
    log.error("document rendering failed: %s", payload)
    raise RenderFailed("the renderer failed; the error is logged")


def _stop(processes) -> None:
    for process, conn in processes:
        if process.is_alive():
            process.kill()
        process.join()
        conn.close()


def run_limited(html: str, templates_dir: str | Path, max_pages: int, seconds: float, isolate: bool = True,
                language: str | None = None) -> bytes:
    """Lay out and write `html` in a forked child; kill it after `seconds` (RenderTimeout)."""
    if not isolate or "fork" not in multiprocessing.get_all_start_methods():
        try:
            return _layout_and_write(html, Path(templates_dir), max_pages, shared_fonts=False)
        except CPQError:
            raise
        except Exception as exc:
            log.exception("document rendering failed")
            raise RenderFailed(f"the renderer failed ({type(exc).__name__}); the error is logged") from None
    warm_up(templates_dir, language)
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    process = _start(context, _render_child, (html, str(templates_dir), max_pages, writer), "cpq-pdf")
    writer.close()
    started = time.monotonic()
    try:
        payload = _receive(process, reader, started + seconds, seconds, "ok")
    finally:
        _stop([(process, reader)])
    log.debug("rendered %d bytes in %.2f s", len(payload), time.monotonic() - started)
    return payload


def run_parallel(pages: DocumentPages, document_parts: tuple[Part, ...], limits: RenderLimits) -> bytes:
    """Lay out the parts in one forked child each, number their pages over the whole document, join them.

    Each child renders and lays out its part and sends its page count; once every part is counted,
    each child is sent the HTML of its page numbers (first page, total), writes its PDF with the
    numbers stamped in the footer and sends it. All of it within one time limit.
    """
    warm_up(pages.templates_dir, pages.doc.options.language)
    context = multiprocessing.get_context("fork")
    started = time.monotonic()
    deadline = started + limits.seconds
    processes = []
    try:
        for part in document_parts:
            conn, child = context.Pipe()
            processes.append((_start(context, _part_child, (pages, part, limits.max_pages, child),
                                     f"cpq-pdf-{part.index + 1}"), conn))
            child.close()
        counts = [_receive(process, conn, deadline, limits.seconds, "pages") for process, conn in processes]
        _check_pages(sum(counts), limits.max_pages)
        first = 1
        for (_, conn), count in zip(processes, counts, strict=True):
            conn.send(pages.numbers_html(first, count, sum(counts)))
            first += count
        pdfs = [_receive(process, conn, deadline, limits.seconds, "ok") for process, conn in processes]
    finally:
        _stop(processes)
    try:
        pdf = join_pdfs(pdfs)
    except Exception as exc:
        log.exception("joining the parts of a document failed")
        raise RenderFailed(f"joining the document's parts failed ({type(exc).__name__}); the error is logged") from None
    log.debug("rendered %d parts, %d pages, %d bytes in %.2f s", len(pdfs), sum(counts), len(pdf),
              time.monotonic() - started)
    return pdf


def render_pdf(doc: QuoteDocument, brand: Brand, templates_dir: str | Path,
               limits: RenderLimits | None = None) -> bytes:
    """The PDF of `doc`, or DocumentTooLarge / RenderTimeout / RenderFailed."""
    limits = limits or RenderLimits()
    if doc.row_count > limits.max_rows:
        raise DocumentTooLarge(f"the document has {doc.row_count} table rows; at most {limits.max_rows} are "
                               "rendered (leave out the waterfall appendix or split the quote)",
                               rows=doc.row_count, max_rows=limits.max_rows)
    count = limits.parts_for(doc.row_count) if "fork" in multiprocessing.get_all_start_methods() else 1
    try:
        pages = DocumentPages(doc, brand, templates_dir, limits.ledger_for(doc.row_count))
        # a ledger is cut between its pages (no gap), a table between lines
        document_parts = pages.ledger.split(count) if pages.ledger else parts.split(doc, count)
        html = pages.html() if len(document_parts) == 1 else None  # parts: each renderer renders its own
    except CPQError:
        raise
    except Exception as exc:
        log.exception("quote template failed")
        raise RenderFailed(f"the quote template failed ({type(exc).__name__}); the error is logged") from None
    if html is None:
        return run_parallel(pages, document_parts, limits)
    return run_limited(html, templates_dir, limits.max_pages, limits.seconds, limits.isolate, doc.options.language)
