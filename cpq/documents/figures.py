"""The numbers of the lines table as one monospace text per row, in columns measured in characters.

WeasyPrint's cost is per laid-out cell: a 1,000-line quote of bundles is 3,000 rows, and at seven
cells a row the cells set the rendering time. The figures of a row (quantity, unit list price,
discount, net unit price, net amount) are therefore printed as *one* cell: a monospace text in which
each value is right-aligned in a field of fixed width. The header cells above them are table columns
of exactly those widths in CSS `ch` units (the width of a character of the same monospace font), so
the values stand right-aligned under their headers. The widths are the document's own: the longest
value of each column, or the header's longest word, plus a gap.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from cpq.documents.content import QuoteDocument, Row
from cpq.documents.formatting import Formatter

GAP = 3  # characters between two columns
# a header word of n characters (7 pt capitals with letter spacing) is about this many monospace
# characters of the 7.5 pt figures wide, with a margin
HEADER_CHARS_PER_CHAR = 1.25
_WORDS = re.compile(r"[^\s-]+-?")


@dataclass(frozen=True)
class FigureColumn:
    """One column of figures: its header label and its width in characters (CSS `ch`)."""

    key: str  # quantity | unit_list | discount | unit_net | amount
    label: str
    width: int


def header_width(label: str) -> int:
    """The characters a header label needs so that its longest word does not stick out of its column.

    Labels wrap between words and after hyphens; CJK text wraps between any two characters.
    """
    longest = 0
    for word in _WORDS.findall(label):
        wide = sum(1 for c in word if unicodedata.east_asian_width(c) in "WF")
        longest = max(longest, 2 if wide else len(word))
    return math.ceil(longest * HEADER_CHARS_PER_CHAR)


class Figures:
    """The figure columns of one document and each row's figures as a padded text (formatted once)."""

    def __init__(self, doc: QuoteDocument, fmt: Formatter, labels: dict[str, str]):
        self.keys = (("quantity", "unit_list", "discount", "unit_net", "amount") if not doc.options.hide_discounts
                     else ("quantity", "unit_net", "amount"))
        self._fmt = fmt
        self._values: dict[int, tuple[str, ...]] = {}
        widths = [header_width(labels[key]) for key in self.keys]
        for group in doc.groups:
            for line in group.lines:
                for row in (line.head, *line.items):
                    values = self._format(row)
                    self._values[id(row)] = values
                    widths = [max(w, len(v)) for w, v in zip(widths, values, strict=True)]
        self.columns = tuple(FigureColumn(key, labels[key], width + GAP)
                             for key, width in zip(self.keys, widths, strict=True))

    def _format(self, row: Row) -> tuple[str, ...]:
        fmt = self._fmt
        if row.amount is None:  # a bundle component whose price is hidden: its quantity only
            return (fmt.number(row.quantity),) + ("",) * (len(self.keys) - 1)
        values = {"quantity": fmt.number(row.quantity), "unit_list": fmt.unit(row.unit_list),
                  "discount": "" if row.discount is None else fmt.percent(row.discount),
                  "unit_net": fmt.unit(row.unit_net), "amount": fmt.amount(row.amount)}
        return tuple(values[key] for key in self.keys)

    def values(self, row: Row) -> tuple[str, ...]:
        """The row's formatted figures, one per column (an empty text where a value is not shown)."""
        return self._values.get(id(row)) or self._format(row)

    def amount(self, amount) -> str:
        """An amount as the amount column prints it."""
        return self._fmt.amount(amount)

    def text(self, row: Row) -> str:
        """The row's figures, each right-aligned in its column: print with `white-space: pre`."""
        values = self.values(row)
        return "".join(value.rjust(column.width) for value, column in zip(values, self.columns, strict=True))

    @property
    def span(self) -> int:
        return len(self.columns)
