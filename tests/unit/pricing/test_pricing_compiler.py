"""Expressions become closures with exact arithmetic: no eval, no float, sympy only at compile time."""

from __future__ import annotations

from fractions import Fraction

import pytest

from cpq.pricing.compiler import SubtotalRegistry, compile_expression
from cpq.ruleset.expressions import Type, check, parse, to_sympy
from cpq.ruleset.scopes import ContextScope, FormulaScope


class Env(dict):
    def __init__(self, values, subtotals=()):
        super().__init__(values)
        self.subtotals = dict(subtotals)

    def subtotal(self, key):
        return self.subtotals[key]


def compiled(text, scope=None, kind=Type.NUMBER):
    scope = scope or FormulaScope({"min_cores": 16, "watts": 900}, ["cores"])
    node = parse(text)
    checker = check(node, scope, kind)
    assert checker.errors == []
    return compile_expression(to_sympy(node, checker), SubtotalRegistry())


def test_per_core_formula_charges_at_least_the_minimum():
    f = compiled("max(qty, min_cores) * 87.50")
    assert f(Env({"line.quantity": 8})) == 1400
    assert f(Env({"line.quantity": 32})) == 2800


def test_percentages_and_division_stay_exact_fractions():
    f = compiled("cost * 125% / 3")
    result = f(Env({"line.cost": Fraction(8)}))
    assert result == Fraction(10, 3) and isinstance(result, Fraction)


def test_attribute_surcharge_uses_the_skus_own_attribute():
    assert compiled("150.00 + if(watts > 800, 25.00, 0)")(Env({})) == 175


def test_subtotal_reads_the_environment_and_marks_the_formula_as_waiting_for_totals():
    f = compiled("18% * subtotal(category == 'hardware')")
    assert f.uses_totals and not f.uses_line
    assert f(Env({}, {f.subtotals[0]: Fraction(1000)})) == 180


def test_text_conditions_compare_as_text():
    scope = ContextScope(quote=True, line=True, subtotal=True)
    f = compiled("account.segment == 'enterprise' and line.quantity >= 10", scope, Type.BOOL)
    assert f.uses_line
    assert f(Env({"account.segment": "enterprise", "line.quantity": 10})) is True
    assert f(Env({"account.segment": "smb", "line.quantity": 10})) is False


def test_a_quote_level_condition_is_recognised():
    scope = ContextScope(quote=True, line=True, subtotal=True)
    f = compiled("quote.list_total >= 50000 and context.partner == 'ACME'", scope, Type.BOOL)
    assert not f.uses_line and f.uses_totals


def test_division_by_zero_surfaces_as_zero_division():
    with pytest.raises(ZeroDivisionError):
        compiled("100 / qty")(Env({"line.quantity": 0}))


def test_the_compiler_source_never_evaluates_text():
    import inspect

    import cpq.pricing.compiler as module

    source = inspect.getsource(module)
    for word in ("eval(", "exec(", "sympify(", "parse_expr(", "lambdify("):
        assert word not in source
