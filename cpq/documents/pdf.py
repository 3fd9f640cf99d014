"""Render a QuoteDocument: Jinja2 (autoescaped) → HTML → WeasyPrint → PDF, within limits.

Every rendering is bounded three ways: the rows it would lay out are counted before anything is
built (`max_rows`), the pages are counted after layout and before the PDF is written (`max_pages`),
and the layout and writing run in a forked child process (warm: the fonts are loaded in the parent
once) that is killed when `seconds` run out — so a pathological document costs at most that much
time and never takes the service down with it. A child that fails or is killed becomes a problem
answer (`document_too_large`, `render_timeout`, `render_failed`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from cpq.documents import formatting
from cpq.documents.brands import Brand
from cpq.documents.content import QuoteDocument
from cpq.documents.errors import RENDER_ERRORS, DocumentTooLarge, RenderFailed, RenderTimeout
from cpq.documents.figures import Figures
from cpq.errors import CPQError

log = logging.getLogger(__name__)

TEMPLATE = "quote/quote.html"
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

    @classmethod
    def from_settings(cls, settings) -> RenderLimits:
        """Limits from app config / environment (`PDF_MAX_ROWS`, `PDF_MAX_PAGES`, `PDF_TIME_LIMIT`)."""
        def get(name, default, kind):
            value = settings.get(name) if settings is not None else None
            if value is None:
                value = os.environ.get(f"CPQ_{name}")
            return default if value is None else kind(value)

        return cls(max_rows=get("PDF_MAX_ROWS", cls.max_rows, int),
                   max_pages=get("PDF_MAX_PAGES", cls.max_pages, int),
                   seconds=get("PDF_TIME_LIMIT", cls.seconds, float),
                   isolate=str(get("PDF_ISOLATE", "1", str)).lower() not in ("0", "false", "no"))


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


def page_css(doc: QuoteDocument, brand: Brand, page_label: str) -> Markup:
    """The page rules that depend on the document: paper, brand colours, fonts, the page counter.

    Only checked values reach this CSS: the paper is one of two names, colours matched #rrggbb when
    the brand was read, and the translated page label is escaped as a CSS string.
    """
    c = brand.colors
    language = doc.options.language
    css = f"""
@page {{ size: {PAGE_SIZES[doc.options.paper]}; font-family: {FONTS[language]};
  @bottom-right {{ content: {formatting.page_counter_css(page_label)}; }} }}
html {{ font-family: {FONTS[language]}; color: {c["text"]}; }}
.brand-primary, h1, .lines thead th, .totals .grand td {{ color: {c["primary"]}; }}
.lines thead th {{ border-bottom-color: {c["primary"]}; }}
.totals .grand td {{ border-top-color: {c["primary"]}; }}
.accent-bar {{ background: {c["accent"]}; }}
.muted, .sku, .note, .running-footer, .meta th, .party h2 {{ color: {c["muted"]}; }}
.lines tbody.line {{ border-bottom-color: {c["rule"]}; }}
.lines tr.group td, .lines tr.subtotal td, .panel {{ background: {c["shade"]}; }}
"""
    return Markup(css)  # built from checked values only (see docstring)


def render_html(doc: QuoteDocument, brand: Brand, templates_dir: str | Path) -> str:
    """The document as HTML; every text from the database is autoescaped by the template."""
    language = doc.options.language
    env = environment(templates_dir, language)
    translations = formatting.translations(Path(templates_dir) / "quote" / "locale", language)
    page_label = translations.gettext("Page %(page)s of %(pages)s")
    locale = formatting.locale_for(language, doc.buyer.country)
    fmt = formatting.Formatter(locale, doc.currency)
    issued = doc.document_hash is not None
    watermark = None if doc.state in ISSUED_STATES else doc.state

    def state_label(state: str) -> str:
        return translations.gettext(STATE_LABELS.get(state, state))

    def country_name(code: str) -> str:
        return locale.territories.get(code.upper(), code)

    def figures_for(labels: dict[str, str]) -> Figures:
        return Figures(doc, fmt, labels)

    return env.get_template(TEMPLATE).render(
        doc=doc, brand=brand, fmt=fmt, lang=language, html_lang=HTML_LANG[language],
        state_label=state_label, country_name=country_name, figures_for=figures_for,
        page_css=page_css(doc, brand, page_label), issued=issued, watermark=watermark,
        qr=qr_svg(doc.verify_url, brand.colors["text"]) if issued and doc.verify_url else None,
        footer=brand.footer_for(language), legal=brand.legal_for(language))


def _layout_and_write(html: str, templates_dir: Path, max_pages: int) -> bytes:
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    from cpq.documents.fetcher import TemplateFetcher

    root = Path(os.path.realpath(templates_dir))
    document = HTML(string=html, base_url=root.as_uri() + "/", url_fetcher=TemplateFetcher(root)).render(
        font_config=FontConfiguration())
    if len(document.pages) > max_pages:
        raise DocumentTooLarge(f"the document has {len(document.pages)} pages; at most {max_pages} are rendered",
                               pages=len(document.pages), max_pages=max_pages)
    return document.write_pdf()


_warm_lock = threading.Lock()
_warm = False
WARM_UP_HTML = """<html><body style="font-family: {fonts}">
<p>Quote 0123456789 <b>Total</b> <span style="font-weight: 600">Net</span> <span style="font-weight: 500">x</span>
<i>note</i> 报价单 合计 <span style="font-family: 'DejaVu Sans Mono'">0f1e</span></p>
<svg width="10" height="10"><path d="M0 0h10v10z"/></svg></body></html>"""


def warm_up() -> None:
    """Load WeasyPrint and the document fonts once in this process, so that forked renderers start warm.

    A child's caches die with it: without this, every isolated rendering would pay for opening and
    parsing the fonts again (about half a second).
    """
    global _warm
    with _warm_lock:
        if _warm:
            return
        from weasyprint import HTML

        for fonts in sorted(set(FONTS.values())):
            HTML(string=WARM_UP_HTML.format(fonts=fonts.replace('"', "'"))).write_pdf()
        _warm = True


def _render_child(html: str, templates_dir: str, max_pages: int, writer) -> None:
    """The body of a renderer process: lay out, write, and send back the bytes or the error."""
    try:
        writer.send(("ok", _layout_and_write(html, Path(templates_dir), max_pages)))
    except CPQError as exc:
        writer.send(("error", (exc.code, exc.detail)))
    except BaseException as exc:  # noqa: BLE001 - everything the renderer raises is reported, then logged
        writer.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        writer.close()


def run_limited(html: str, templates_dir: str | Path, max_pages: int, seconds: float, isolate: bool = True) -> bytes:
    """Lay out and write `html` in a forked child; kill it after `seconds` (RenderTimeout)."""
    if not isolate or "fork" not in multiprocessing.get_all_start_methods():
        try:
            return _layout_and_write(html, Path(templates_dir), max_pages)
        except CPQError:
            raise
        except Exception as exc:
            log.exception("document rendering failed")
            raise RenderFailed(f"the renderer failed ({type(exc).__name__}); the error is logged") from None
    warm_up()
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=_render_child, args=(html, str(templates_dir), max_pages, writer),
                              name="cpq-pdf", daemon=True)
    with warnings.catch_warnings():
        # Python warns that forking a process with threads (durable_rules runs timer threads) may
        # deadlock the child on a lock another thread held. The child only lays out and writes the
        # PDF (WeasyPrint, Pango, fontconfig — used by no other thread here) and is killed at the
        # time limit, so the worst case is a render_timeout answer. See docs/documents.md.
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        process.start()
    writer.close()
    started = time.monotonic()
    try:
        if not reader.poll(seconds):
            raise RenderTimeout(f"rendering was stopped after {seconds:g} s; ask for fewer lines, or without "
                                "the waterfall appendix", seconds=seconds)
        status, payload = reader.recv()
    except EOFError:
        process.join(1)
        raise RenderFailed(f"the renderer stopped without an answer (exit code {process.exitcode})") from None
    finally:
        reader.close()
        if process.is_alive():
            process.kill()
        process.join()
    if status == "ok":
        log.debug("rendered %d bytes in %.2f s", len(payload), time.monotonic() - started)
        return payload
    if status == "error":
        code, detail = payload
        raise RENDER_ERRORS.get(code, RenderFailed)(detail)
    log.error("document rendering failed: %s", payload)
    raise RenderFailed("the renderer failed; the error is logged")


def render_pdf(doc: QuoteDocument, brand: Brand, templates_dir: str | Path,
               limits: RenderLimits | None = None) -> bytes:
    """The PDF of `doc`, or DocumentTooLarge / RenderTimeout / RenderFailed."""
    limits = limits or RenderLimits()
    if doc.row_count > limits.max_rows:
        raise DocumentTooLarge(f"the document has {doc.row_count} table rows; at most {limits.max_rows} are "
                               "rendered (leave out the waterfall appendix or split the quote)",
                               rows=doc.row_count, max_rows=limits.max_rows)
    try:
        html = render_html(doc, brand, templates_dir)
    except CPQError:
        raise
    except Exception as exc:
        log.exception("quote template failed")
        raise RenderFailed(f"the quote template failed ({type(exc).__name__}); the error is logged") from None
    return run_limited(html, templates_dir, limits.max_pages, limits.seconds, limits.isolate)
