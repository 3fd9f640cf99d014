"""The contract example in docs/order-management.md is a valid order for the schema the API serves."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from cpq.api.orders import OrderContractSchema
from cpq.orders.contract import LineRequest, plan_orders
from tests.unit.orders.test_order_contract import accepted

DOC = Path(__file__).resolve().parents[3] / "docs" / "order-management.md"


def contract_example() -> dict:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## The order management contract"):]
    return json.loads(re.search(r"```json\n(.*?)```", section, re.DOTALL).group(1))


def test_the_documented_order_is_valid_for_the_contract_schema():
    assert OrderContractSchema().validate(contract_example()) == {}


def test_the_documented_order_adds_up():
    order = contract_example()
    for line in order["lines"]:
        assert Decimal(line["total"]) == sum(Decimal(i["total"]) for i in line["items"])
    assert Decimal(order["totals"]["contract_value"]) == sum(Decimal(line["total"]) for line in order["lines"])


def test_what_the_planner_sends_is_valid_for_the_contract_schema():
    planned = plan_orders(accepted(), {}, [LineRequest("web", 1, date(2026, 4, 1)), LineRequest("ops", 5)],
                          split_by=None, requested_date=None, first_sequence=1, today=date(2026, 3, 1))
    assert OrderContractSchema().validate(planned[0].payload) == {}
