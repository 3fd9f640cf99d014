"""Golden quotes: each file in quotes/ is a request, the prices worked out by hand, and why.

The golden catalog (catalog/) is small and separate from the sample files, so these figures only
change when pricing does. A waterfall step is compared as "kind before -> after rule @file:line".
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from cpq.pricing.engine import price_quote
from cpq.pricing.report import quote_as_json
from cpq.pricing.request import parse_quote
from cpq.ruleset.loader import load_ruleset

HERE = Path(__file__).resolve().parent
CASES = sorted((HERE / "quotes").glob("*.yaml"))


@pytest.fixture(scope="module")
def golden_ruleset():
    return load_ruleset([HERE / "catalog"])


def step_text(step: dict) -> str:
    where = "-"
    if step["source"]:
        path, line, _col = step["source"].rsplit(":", 2)
        where = f"{Path(path).name}:{line}"
    return f"{step['kind']} {step['before'] or '-'} -> {step['after']} {step['rule_id'] or '-'} @{where}"


def subset(actual: dict, expected: dict, where: str) -> None:
    for key, want in expected.items():
        assert key in actual, f"{where}: no '{key}' in the result"
        assert actual[key] == want, f"{where}.{key}: got {actual[key]!r}, expected {want!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden_quote_prices_as_worked_out_by_hand(case, golden_ruleset):
    spec = yaml.safe_load(case.read_text())
    request, context = parse_quote(spec["request"], today=date(2026, 1, 1))
    result = quote_as_json(price_quote(golden_ruleset, request, context))
    expect = spec["expect"]
    if "pricebooks" in expect:
        assert result["pricebooks"] == expect["pricebooks"]
    assert [line["id"] for line in result["lines"]] == [line["id"] for line in expect["lines"]]
    for got_line, want_line in zip(result["lines"], expect["lines"], strict=True):
        want_items = want_line.pop("items")
        subset(got_line, want_line, f"line {got_line['id']}")
        assert [i["sku"] for i in got_line["items"]] == [i["sku"] for i in want_items]
        for got, want in zip(got_line["items"], want_items, strict=True):
            want = dict(want)
            waterfall = want.pop("waterfall", None)
            subset(got, want, f"line {got_line['id']} {got['sku']}")
            if waterfall is not None:
                assert [step_text(s) for s in got["waterfall"]] == waterfall, f"{got['sku']} waterfall"
    totals = dict(expect.get("totals", {}))
    for tax in totals.pop("tax", None) or []:
        found = next((t for t in result["totals"]["tax"] if t["rate"] == tax["rate"]), None)
        assert found is not None, f"no tax line for rate {tax['rate']}"
        subset(found, tax, f"tax {tax['rate']}")
    if "tax" in expect.get("totals", {}):
        assert len(result["totals"]["tax"]) == len(expect["totals"]["tax"])
    subset(result["totals"], totals, "totals")
    if "approvals" in expect:
        assert len(result["approvals"]) == len(expect["approvals"])
        for got, want in zip(result["approvals"], expect["approvals"], strict=True):
            subset(got, want, "approval")
