"""The ledger layout of a long quote: every row of the lines table is one line of monospace text.

WeasyPrint's cost is per laid-out cell and text run (style matching, line layout, drawing): a
1,000-line quote of bundles is 3,000 table rows and took 20 s as a table, however lean its cells.
From `PDF_LEDGER_ROWS` table rows on, the lines are therefore printed as a *ledger*: each row is
one pre-formatted line — position, description, then quantity, prices, discount and amount, each
right-aligned in a field of fixed width — and each page of the ledger is one block of text, so
WeasyPrint lays out line boxes, not cells.

The pages are cut here, not by WeasyPrint: every line of the ledger is exactly `LINE_HEIGHT` high
(one font, one size; CJK runs are spans that cannot raise the line), so a page holds a known
number of lines. Each page starts with the column headers, a quote line is never split across
pages (unless it is longer than a page), a group's name stays with its first line and its subtotal
with its last. The ledger starts on the page after the title, key facts and parties.

Widths are counted in character cells of DejaVu Sans Mono. CJK characters (East Asian width W or
F) come from the CJK fallback font, one em wide; they count as two cells and are printed in a span
whose letter spacing makes them exactly two cells wide (`.ledger .w` in quote.css).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from markupsafe import Markup, escape

from cpq.documents import parts
from cpq.documents.content import Line, QuoteDocument, Row
from cpq.documents.figures import Figures
from cpq.documents.parts import Part

# Page geometry (written into the page CSS by cpq/documents/pdf.py, so there is one source).
PAPER_PT = {"a4": (595.28, 841.89), "letter": (612.0, 792.0)}
MARGIN_MM = (26.0, 15.0, 20.0, 15.0)  # top, right, bottom, left
FONT_SIZE = 7.5  # pt
LINE_HEIGHT = 10.0  # pt, every ledger line
CELL = FONT_SIZE * 1233 / 2048  # the advance of every DejaVu Sans Mono glyph, in pt
HEADER_RULE = 1.0  # pt, the line under the column headers
HEADER_GAP = 3.0  # pt, between that line and the first row (padding)
SPARE_LINES = 1  # a line of room left free on each page against rounding
GAP = 2  # cells between two columns
MIN_DESCRIPTION = 24  # cells; narrower and the figures are pushed past the right margin
INDENT = 2  # cells per nesting level of an item


def mm(value: float) -> float:
    return value * 72 / 25.4


def cells(text: str) -> int:
    """How many character cells `text` takes: CJK wide and full-width characters take two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` cells, broken at spaces; a longer word is cut anywhere."""
    lines: list[str] = []
    current, used = "", 0
    for word in text.split():
        size = cells(word)
        if current and used + 1 + size <= width:
            current, used = f"{current} {word}", used + 1 + size
            continue
        if current:
            lines.append(current)
            current, used = "", 0
        while size > width:  # a word wider than the field: cut it
            cut, taken = "", 0
            for c in word:
                w = cells(c)
                if taken + w > width:
                    break
                cut, taken = cut + c, taken + w
            lines.append(cut)
            word = word[len(cut):]
            size = cells(word)
        current, used = word, size
    if current or not lines:
        lines.append(current)
    return lines


def pad(text: str, width: int) -> str:
    """`text` left-aligned in `width` cells."""
    return text + " " * max(0, width - cells(text))


def rpad(text: str, width: int) -> str:
    """`text` right-aligned in `width` cells."""
    return " " * max(0, width - cells(text)) + text


@dataclass(frozen=True)
class LedgerLine:
    """One printed line: its text (padded to the ledger's width) and how it is set."""

    text: str
    kind: str  # head (a quote line's own row, bold) | item | group (a group's name) | subtotal

    def markup(self) -> Markup:
        """The line as HTML: escaped text, CJK runs in `<span class="w">`, heads and totals bold."""
        body = _wide_spans(self.text)
        if self.kind == "item":
            return body
        return Markup('<b class="{}">{}</b>').format(self.kind, body)


def _wide_spans(text: str) -> Markup:
    if text.isascii():
        return escape(text)
    out, run, wide = [], "", False
    for c in text:
        is_wide = unicodedata.east_asian_width(c) in "WF"
        if run and is_wide != wide:
            out.append(Markup('<span class="w">{}</span>').format(run) if wide else escape(run))
            run = ""
        run, wide = run + c, is_wide
    if run:
        out.append(Markup('<span class="w">{}</span>').format(run) if wide else escape(run))
    return Markup("").join(out)


@dataclass(frozen=True)
class LedgerPage:
    """The rows printed on one page of the ledger, under the column headers."""

    lines: tuple[LedgerLine, ...]

    def markup(self) -> Markup:
        return Markup("\n").join(line.markup() for line in self.lines)


class Ledger:
    """The ledger of one document: its columns, header lines, and rows cut into pages."""

    def __init__(self, doc: QuoteDocument, figures: Figures, labels: dict[str, str],
                 describe: Callable[[Row], str], subtotal_label: Callable[[str], str]):
        """`labels` has "position" and "description" and the figure columns' labels; `describe(row)` is
        the row's description as printed (name, SKU, charge note); `subtotal_label(group)` its subtotal's."""
        self.doc, self.figures, self._describe, self._subtotal_label = doc, figures, describe, subtotal_label
        self._whole: tuple[LedgerPage, ...] | None = None
        page_width, page_height = PAPER_PT[doc.options.paper]
        top, right, bottom, left = (mm(m) for m in MARGIN_MM)
        self.width = int((page_width - left - right) / CELL)  # cells in a line
        positions = max((line.position for group in doc.groups for line in group.lines), default=1)
        self.position_width = max(len(str(positions)), cells(labels["position"].upper())) + GAP
        keys = figures.keys
        value_widths = [0] * len(keys)
        for group in doc.groups:
            for line in group.lines:
                for row in (line.head, *line.items):
                    value_widths = [max(w, cells(v)) for w, v in zip(value_widths, figures.values(row), strict=True)]
            value_widths[-1] = max(value_widths[-1], cells(figures.amount(group.subtotal)))
        figure_labels = [labels[key].upper() for key in keys]
        self.figure_widths = [GAP + max(value, _longest_word(label))
                              for label, value in zip(figure_labels, value_widths, strict=True)]
        room = self.width - self.position_width - sum(self.figure_widths)
        self._descriptions = {id(row): describe(row) for group in doc.groups for line in group.lines
                              for row in (line.head, *line.items)}
        needed = max((cells(self._descriptions[id(row)]) + INDENT * row.depth + GAP for group in doc.groups
                      for line in group.lines for row in (line.head, *line.items)), default=MIN_DESCRIPTION)
        # room the descriptions do not need widens the figure columns, so that their headers wrap less
        spare = max(0, room - max(needed, MIN_DESCRIPTION))
        for k, label in enumerate(figure_labels):
            grow = min(spare, max(0, cells(label) + GAP - self.figure_widths[k]))
            self.figure_widths[k] += grow
            spare -= grow
        self.description_width = max(MIN_DESCRIPTION, self.width - self.position_width - sum(self.figure_widths))
        self.header = self._header(figure_labels, labels["position"].upper(), labels["description"].upper())
        content_height = page_height - top - bottom
        header_height = len(self.header) * LINE_HEIGHT + HEADER_RULE + HEADER_GAP
        self.lines_per_page = max(1, math.floor((content_height - header_height) / LINE_HEIGHT) - SPARE_LINES)

    def _header(self, figure_labels: list[str], position: str, description: str) -> tuple[str, ...]:
        columns = [wrap(position, self.position_width - GAP), wrap(description, self.description_width - GAP)]
        columns += [wrap(label, width - GAP) for label, width in zip(figure_labels, self.figure_widths, strict=True)]
        depth = max(len(c) for c in columns)
        columns = [[""] * (depth - len(c)) + c for c in columns]  # labels sit on the bottom line
        lines = []
        for k in range(depth):
            text = pad(columns[0][k], self.position_width) + pad(columns[1][k], self.description_width)
            text += "".join(rpad(c[k], w) for c, w in zip(columns[2:], self.figure_widths, strict=True))
            lines.append(text.rstrip())
        return tuple(lines)

    def header_markup(self) -> Markup:
        return Markup("\n").join(_wide_spans(line) for line in self.header)

    def _row_lines(self, row: Row, position: str, kind: str) -> list[LedgerLine]:
        indent = INDENT * row.depth
        texts = wrap(self._descriptions.get(id(row)) or self._describe(row), self.description_width - GAP - indent)
        figures = "".join(rpad(v, w) for v, w in zip(self.figures.values(row), self.figure_widths, strict=True))
        out = []
        for k, text in enumerate(texts):
            start = pad(position if k == 0 else "", self.position_width) + " " * indent
            body = pad(text, self.description_width - indent)
            out.append(LedgerLine(start + body + figures if k == 0 else (start + text).rstrip(), kind))
        return out

    def _block(self, line: Line, group_name: str | None, subtotal: tuple[str, str] | None) -> list[LedgerLine]:
        """The lines of one quote line, with its group's name before it / subtotal after it when due."""
        out = []
        if group_name:
            for text in wrap(group_name, self.width - self.position_width):
                out.append(LedgerLine(" " * self.position_width + text, "group"))
        out += self._row_lines(line.head, str(line.position), "head")
        for row in line.items:
            out += self._row_lines(row, "", "item")
        if subtotal:
            label, amount = subtotal
            end = self.position_width + self.description_width + sum(self.figure_widths)  # under the amounts
            for k, text in enumerate(wrap(label, end - self.position_width - self.figure_widths[-1])):
                text = " " * self.position_width + text
                out.append(LedgerLine(text + rpad(amount, end - cells(text)) if k == 0 else text, "subtotal"))
        return out

    def blocks(self, part: Part) -> Iterable[list[LedgerLine]]:
        for pg in part.groups:
            group = pg.group
            for k, line in enumerate(pg.lines):
                name = group.name if group.name and pg.opens and k == 0 else None
                last = group.name and pg.closes and k == len(pg.lines) - 1
                subtotal = (self._subtotal_label(group.name), self.figures.amount(group.subtotal)) if last else None
                yield self._block(line, name, subtotal)

    def pages(self, part: Part) -> tuple[LedgerPage, ...]:
        """The pages of `part`: its share of the whole ledger's pages, or its own lines cut into pages."""
        if part.pages is not None:
            first, end = part.pages
            return self.whole()[first:end]
        return self._paginate(part)

    def whole(self) -> tuple[LedgerPage, ...]:
        """Every page of the ledger (cut once)."""
        if self._whole is None:
            self._whole = self._paginate(parts.whole(self.doc))
        return self._whole

    def split(self, count: int) -> tuple[Part, ...]:
        """The document in at most `count` parts of about equal pages, cut between ledger pages.

        The first part also has the title page, the last one the totals, closing blocks and the
        appendix (about a page, plus the appendix rows at a ledger page's rows a page).
        """
        pages = len(self.whole())
        appendix_rows = sum(1 + len(w.steps) for w in self.doc.waterfall)
        closing = 1 + appendix_rows / self.lines_per_page
        share = (1 + pages + closing) / max(1, count)
        bounds, done = [0], 1.0  # the title page is the first part's
        for k in range(pages):
            done += 1
            if done >= share * len(bounds) and len(bounds) < count and k + 1 < pages:
                bounds.append(k + 1)
        bounds.append(pages)
        ranges = list(zip(bounds, bounds[1:], strict=False))
        return tuple(Part(k, len(ranges), (), pages=r) for k, r in enumerate(ranges))

    def _paginate(self, part: Part) -> tuple[LedgerPage, ...]:
        pages: list[list[LedgerLine]] = [[]]
        for block in self.blocks(part):
            room = self.lines_per_page - len(pages[-1])
            if len(block) > room and pages[-1]:
                pages.append([])
            while len(block) > self.lines_per_page:  # longer than a page by itself: cut where the page ends
                room = self.lines_per_page - len(pages[-1])
                pages[-1].extend(block[:room])
                pages.append([])
                block = block[room:]
            pages[-1].extend(block)
        return tuple(LedgerPage(tuple(lines)) for lines in pages if lines)


def _longest_word(label: str) -> int:
    return max((cells(word) for word in label.split()), default=0)
