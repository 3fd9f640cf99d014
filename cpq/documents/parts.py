"""A long document cut into parts at line boundaries, so that its parts can be laid out in parallel.

WeasyPrint lays out one document in one process. A quote of thousands of rows is therefore cut
into parts of about equal rows: the first part has the title, the parties and the first lines; the
last one the remaining lines, the totals, the closing blocks and the appendix. Every part starts
on a new page with the running header, footer and table header; the pages are joined afterwards
and numbered over the whole document (cpq/documents/pdf.py). A group cut between two parts prints
its name in the part where it starts and its subtotal in the part where it ends. A ledger (a long
quote, cpq/documents/ledger.py) is cut between its pages instead, so its parts leave no gap.
"""

from __future__ import annotations

from dataclasses import dataclass

from cpq.documents.content import Group, Line, QuoteDocument


@dataclass(frozen=True)
class PartGroup:
    """The lines of one group that fall into one part."""

    group: Group
    lines: tuple[Line, ...]
    opens: bool  # the group's first line is in this part: print the group's name row
    closes: bool  # its last line is in this part: print its subtotal


@dataclass(frozen=True)
class Part:
    """One part of a document: which blocks and which lines it prints."""

    index: int  # 0-based
    count: int
    groups: tuple[PartGroup, ...]
    pages: tuple[int, int] | None = None  # a ledger's part: its pages [first, end) of the whole ledger

    @property
    def first(self) -> bool:
        """The part with the title, key facts and parties."""
        return self.index == 0

    @property
    def last(self) -> bool:
        """The part with the totals, terms, acceptance, verification and appendix."""
        return self.index == self.count - 1


def whole(doc: QuoteDocument) -> Part:
    """The whole document as one part."""
    return Part(0, 1, tuple(PartGroup(g, g.lines, True, True) for g in doc.groups))


def split(doc: QuoteDocument, count: int) -> tuple[Part, ...]:
    """`doc` in at most `count` parts of about equal table rows, cut between lines.

    The appendix (waterfall) rows count towards the last part, so a large appendix moves lines
    into the earlier parts. A part never starts without a line unless it is the last one.
    """
    lines = [(group, line) for group in doc.groups for line in group.lines]
    if count <= 1 or len(lines) < 2:
        return (whole(doc),)
    line_rows = [1 + len(line.items) for _, line in lines]
    appendix_rows = sum(1 + len(w.steps) for w in doc.waterfall)
    share = (sum(line_rows) + appendix_rows) / count
    cuts, rows = [], 0
    for i, n in enumerate(line_rows[:-1]):
        rows += n
        if rows >= share * (len(cuts) + 1) and len(cuts) < count - 1:
            cuts.append(i + 1)
    bounds = [0, *cuts, len(lines)]
    slices = [lines[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    if appendix_rows and len(slices) < count:  # the appendix alone makes the last part
        slices.append([])
    return tuple(Part(k, len(slices), _groups(chunk)) for k, chunk in enumerate(slices))


def _groups(chunk: list[tuple[Group, Line]]) -> tuple[PartGroup, ...]:
    runs: list[tuple[Group, list[Line]]] = []
    for group, line in chunk:
        if runs and runs[-1][0] is group:
            runs[-1][1].append(line)
        else:
            runs.append((group, [line]))
    return tuple(PartGroup(group, tuple(part), part[0] is group.lines[0], part[-1] is group.lines[-1])
                 for group, part in runs)
