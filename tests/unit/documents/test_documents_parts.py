"""A long document cut into parts for parallel layout: whole lines, about equal rows, groups kept whole."""

from __future__ import annotations

import os
from dataclasses import replace
from decimal import Decimal

from cpq.documents import parts
from cpq.documents.content import ItemWaterfall, PriceStep, build_groups
from cpq.documents.pdf import RenderLimits
from tests.unit.documents.test_documents_content import STARTER
from tests.unit.documents.test_documents_figures import document


def priced(lines):
    return {"lines": lines, "totals": {"by_group": {}}}


def grouped(*groups: tuple[str, int]):
    """A document whose groups have these names and numbers of STARTER lines (6 rows each)."""
    lines = [{**STARTER, "id": f"{name}{n}", "group": name} for name, count in groups for n in range(count)]
    doc = document([])
    return replace(doc, groups=build_groups(priced(lines), doc.options))


def line_ids(part):
    return [line.id for pg in part.groups for line in pg.lines]


def test_two_parts_hold_every_line_once_in_order_with_about_equal_rows():
    doc = grouped(("Compute", 9), ("Network", 1))
    first, second = parts.split(doc, 2)
    everything = [line.id for g in doc.groups for line in g.lines]
    assert line_ids(first) + line_ids(second) == everything
    assert len(line_ids(first)) == 5 and first.first and not first.last and second.last and not second.first


def test_a_group_cut_in_two_prints_its_name_in_the_first_part_and_its_subtotal_in_the_last():
    doc = grouped(("Compute", 9), ("Network", 1))
    first, second = parts.split(doc, 2)
    assert [(pg.group.name, pg.opens, pg.closes) for pg in first.groups] == [("Compute", True, False)]
    assert [(pg.group.name, pg.opens, pg.closes) for pg in second.groups] == [
        ("Compute", False, True), ("Network", True, True)]


def test_a_document_of_one_line_or_one_part_is_whole():
    doc = grouped(("Compute", 1))
    (only,) = parts.split(doc, 2)
    assert only.first and only.last and [(pg.opens, pg.closes) for pg in only.groups] == [(True, True)]
    assert parts.split(grouped(("Compute", 4)), 1) == (parts.whole(grouped(("Compute", 4))),)


def test_a_large_waterfall_appendix_moves_the_lines_into_the_first_part():
    doc = grouped(("Compute", 2))
    steps = tuple(PriceStep("list", "List price", None, Decimal("2400.00"), "", None) for _ in range(40))
    doc = replace(doc, waterfall=(ItemWaterfall(1, "DC-STARTER", "Data-centre starter kit", steps),))
    first, second = parts.split(doc, 2)
    assert len(line_ids(first)) == 2 and second.groups == () and second.last


def test_only_long_documents_are_laid_out_in_parts_and_never_without_isolation():
    limits = RenderLimits(parallel=2, parallel_rows=600)
    assert limits.parts_for(599) == 1
    assert limits.parts_for(600) == min(2, os.cpu_count() or 1)
    assert replace(limits, isolate=False).parts_for(5000) == 1
    assert replace(limits, parallel=1).parts_for(5000) == 1
