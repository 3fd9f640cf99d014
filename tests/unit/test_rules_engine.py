"""The rules-engine adapter (durable_rules) fires exactly the rules whose conditions hold."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from cpq.rules_engine import MAX_RULES_PER_RULESET, RuleProgram, RuleProgramError
from cpq.ruleset.expressions import Type, check, parse, to_sympy
from cpq.ruleset.scopes import ContextScope, bind_text_fields

SCOPE = ContextScope(quote=True, subtotal=True)
S = sympy.Symbol


def condition(text):
    node = parse(text)
    checker = check(node, SCOPE, Type.BOOL)
    assert checker.errors == []
    return to_sympy(node, checker)


POLICIES = [
    ("large-deal", "quote.total > 100000"),
    ("deep-discount", "quote.discount_percent >= 15 and account.segment != 'enterprise'"),
    ("eur-or-margin", "quote.currency == 'EUR' or quote.total * 2 - quote.list_total > 10"),
    ("near-target-margin", "abs(quote.margin_percent - 20) < 5"),
    ("many-lines", "quote.line_count in [10, 20, 30] or not quote.line_count <= 40"),
]
PROGRAM = RuleProgram([(rule_id, condition(text)) for rule_id, text in POLICIES], "test-policies")


def quote(total=0, discount=0, segment="smb", list_total=0, currency="USD", margin=0, lines=1):
    return {S("quote.total"): total, S("quote.discount_percent"): discount, S("account.segment"): segment,
            S("quote.list_total"): list_total, S("quote.currency"): currency, S("quote.margin_percent"): margin,
            S("quote.line_count"): lines}


def expected(values):
    """The same conditions judged by sympy directly: the independent oracle."""
    texts = {str(k): v for k, v in values.items() if isinstance(v, str)}
    numbers = {k: sympy.nsimplify(v) for k, v in values.items() if not isinstance(v, str)}
    out = []
    for rule_id, text in POLICIES:
        judged = bind_text_fields(condition(text), texts).xreplace(numbers)
        if sympy.simplify(judged) is sympy.true:
            out.append(rule_id)
    return out


def test_a_large_enterprise_deal_fires_the_large_deal_rule_only():
    assert PROGRAM.matching(quote(total=150000, segment="enterprise", margin=40)) == ["large-deal", "eur-or-margin"]


def test_a_deep_discount_for_a_small_customer_needs_approval():
    assert PROGRAM.matching(quote(total=5, discount=20, list_total=100, margin=30)) == ["deep-discount"]


def test_negated_membership_and_lifted_abs_terms_are_judged():
    assert PROGRAM.matching(quote(lines=41, margin=18, list_total=100)) == ["near-target-margin", "many-lines"]


@settings(max_examples=60, deadline=None)
@given(
    total=st.integers(0, 300000),
    discount=st.decimals(0, 40, places=1),
    segment=st.sampled_from(["smb", "enterprise"]),
    list_total=st.integers(0, 300000),
    currency=st.sampled_from(["USD", "EUR"]),
    margin=st.integers(-10, 60),
    lines=st.integers(1, 60),
)
def test_the_engine_agrees_with_sympy_on_random_quotes(total, discount, segment, list_total, currency, margin, lines):
    values = quote(total, discount, segment, list_total, currency, margin, lines)
    assert PROGRAM.matching(values) == expected(values)


def test_decimal_values_are_accepted():
    assert PROGRAM.matching(quote(total=Decimal("100000.01"), margin=Decimal("40.5"))) == ["large-deal", "eur-or-margin"]


def test_a_missing_value_is_a_clear_error():
    values = quote()
    del values[S("quote.total")]
    with pytest.raises(RuleProgramError, match="no value for 'quote.total'"):
        PROGRAM.matching(values)


def test_more_rules_than_one_durable_ruleset_takes_are_split_and_still_fire():
    count = 2 * MAX_RULES_PER_RULESET + 300  # well past the ~510 rules at which one durable ruleset hangs
    rules = [(f"threshold-{i}", condition(f"quote.total >= {i}")) for i in range(count)]
    started = time.monotonic()
    program = RuleProgram(rules, "split")
    assert time.monotonic() - started < 60
    fired = program.matching(quote(total=count - 5))
    assert fired == [f"threshold-{i}" for i in range(count - 4)]
