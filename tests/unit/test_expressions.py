"""The expression language: every grammar construct, its types, its errors and its sympy form."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sympy

from cpq.ruleset.expressions import (
    Arith,
    BoolOp,
    Call,
    Compare,
    ExpressionError,
    InList,
    Literal,
    Name,
    Neg,
    Not,
    Type,
    check,
    parse,
    to_sympy,
)
from cpq.ruleset.scopes import ContextScope, FormulaScope, bind_text_fields


def shape(node):
    """A compact, position-free picture of an AST for readable assertions."""
    match node:
        case Literal(value=v):
            return v
        case Name(parts=p):
            return ".".join(p)
        case Neg(operand=o):
            return ("neg", shape(o))
        case Not(operand=o):
            return ("not", shape(o))
        case Arith(op=op, left=a, right=b) | Compare(op=op, left=a, right=b):
            return (op, shape(a), shape(b))
        case InList(operand=o, items=items, negated=n):
            return ("not in" if n else "in", shape(o), [shape(i) for i in items])
        case BoolOp(op=op, operands=ops):
            return (op, *[shape(o) for o in ops])
        case Call(func=f, args=args):
            return (f + "()", *[shape(a) for a in args])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", Decimal("42")),
        ("0.8", Decimal("0.8")),
        ("18%", Decimal("0.18")),
        ("'web'", "web"),
        ('"web"', "web"),
        ("true", True),
        ("false", False),
        ("CPU-64C", "CPU-64C"),
        ("psu.capacity", "psu.capacity"),
        ("`100G-QSFP`.qty", "100G-QSFP.qty"),
        ("a - b", ("-", "a", "b")),
        ("a + b * c", ("+", "a", ("*", "b", "c"))),
        ("(a + b) * c", ("*", ("+", "a", "b"), "c")),
        ("a / b - c", ("-", ("/", "a", "b"), "c")),
        ("-x + 3", ("+", ("neg", "x"), Decimal("3"))),
        ("a == b", ("==", "a", "b")),
        ("a != b", ("!=", "a", "b")),
        ("a < b", ("<", "a", "b")),
        ("a <= b", ("<=", "a", "b")),
        ("a > b", (">", "a", "b")),
        ("a >= b", (">=", "a", "b")),
        ("x in [1, 2]", ("in", "x", [Decimal(1), Decimal(2)])),
        ("x not in ['a']", ("not in", "x", ["a"])),
        ("a or b and not c", ("or", "a", ("and", "b", ("not", "c")))),
        ("not a or b", ("or", ("not", "a"), "b")),
        ("sum(watts * qty)", ("sum()", ("*", "watts", "qty"))),
        ("count(drives)", ("count()", "drives")),
        ("min(a, b, 3)", ("min()", "a", "b", Decimal(3))),
        ("max(a, 1)", ("max()", "a", Decimal(1))),
        ("abs(a - b)", ("abs()", ("-", "a", "b"))),
        ("if(a, 1, 2)", ("if()", "a", Decimal(1), Decimal(2))),
        ("subtotal(category == 'hardware')", ("subtotal()", ("==", "category", "hardware"))),
    ],
)
def test_each_grammar_construct_parses_to_its_tree(text, expected):
    assert shape(parse(text)) == expected


def test_hyphen_between_name_characters_is_part_of_the_name():
    assert shape(parse("CPU-64C-1")) == "CPU-64C-1"
    assert shape(parse("CPU - 64")) == ("-", "CPU", Decimal(64))


def test_keywords_are_not_names_but_names_may_start_with_them():
    assert shape(parse("android and order")) == ("and", "android", "order")
    assert shape(parse("summary")) == "summary"


def errors_of(text):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    return [(e.line, e.col, e.message, e.suggestion) for e in info.value.errors]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a = b", [(1, 3, "unexpected character '='", "'==' to compare")]),
        ("a && b", [(1, 3, "unexpected character '&'", "'and' / 'or'")]),
        ("a ! b", [(1, 3, "unexpected character '!'", "'not' or '!='")]),
        ("a and", [(1, 6, "expression ends early; expected a value, a name or an operator", None)]),
        ("(a", [(1, 3, "expression ends early; expected ')'", None)]),
        ("a b", [(1, 3, "unexpected 'b'; expected a value, a name or an operator", None)]),
        ("", [(1, 1, "empty expression", None)]),
    ],
)
def test_syntax_errors_say_where_and_what(text, expected):
    assert errors_of(text) == expected


CONDITIONS = ContextScope(quote=True, line=True, subtotal=True)


def type_errors(text, scope=CONDITIONS, expected=Type.BOOL):
    checker = check(parse(text), scope, expected)
    return [(e.col, e.code, e.message, e.suggestion) for e in checker.errors]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quote.total > 'big'", [(15, "type_error", "'>' compares numbers, not text", None)]),
        ("quote.total == 'big'", [(1, "type_error", "cannot compare number with text", None)]),
        ("quote.total + 1", [(1, "type_error", "expected a yes/no expression, got number", None)]),
        ("quote.total and true", [(1, "type_error", "'and' needs a yes/no value, got number", None)]),
        ("not quote.currency", [(5, "type_error", "'not' needs a yes/no value, got text", None)]),
        ("-account.segment == 1", [(2, "type_error", "'-' needs a number value, got text", None)]),
        ("quote.currency in [1]", [(20, "type_error", "list item is number, expected text", None)]),
        ("if(true, 1, 'x') == 1", [(1, "type_error", "if() branches differ: number and text", None)]),
        ("abs(1, 2) == 1", [(1, "type_error", "abs() takes 1 argument(s), got 2", None)]),
        ("min(1) == 1", [(1, "type_error", "min() takes at least 2 argument(s), got 1", None)]),
        ("sum(1) == 1", [(1, "unknown_name", "sum() is not available here", None)]),
        ("subtotal(subtotal(true) > 1) > 1", [(10, "type_error", "subtotal() cannot be nested inside subtotal()", None)]),
    ],
)
def test_type_errors_are_found_when_the_rule_is_loaded(text, expected):
    assert type_errors(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acount.segment == 'x'", (1, "unknown_name", "unknown name 'acount.segment'", "'account.segment'")),
        ("account.segmnt == 'x'", (1, "unknown_name", "unknown account field 'account.segmnt'", "'account.segment'")),
        ("account == 'x'", (1, "unknown_name", "'account' needs a field, e.g. 'account.id'", None)),
        ("subtotal(categroy == 'x') > 0", (10, "unknown_name", "unknown line field 'categroy'", "'category'")),
    ],
)
def test_unknown_names_suggest_the_closest_known_name(text, expected):
    assert type_errors(text)[0] == expected


def test_percent_and_decimals_compile_to_exact_rationals():
    node = parse("quote.total * 18% + 0.1")
    checker = check(node, CONDITIONS, Type.NUMBER)
    expr = to_sympy(node, checker)
    total = sympy.Symbol("quote.total")
    assert expr == total * sympy.Rational(18, 100) + sympy.Rational(1, 10)


def test_string_comparison_compiles_to_equality_of_text_atoms():
    node = parse("context.channel in ['web', 'partner']")
    expr = to_sympy(node, check(node, CONDITIONS))
    assert bind_text_fields(expr, {"context.channel": "web"}) == sympy.true
    assert bind_text_fields(expr, {"context.channel": "direct"}) == sympy.false


def test_formula_names_resolve_to_the_skus_attributes_and_line_quantity():
    scope = FormulaScope({"cores": 16}, bundle_attributes=["cores"])
    node = parse("max(qty, cores) * 95")
    checker = check(node, scope, Type.NUMBER)
    assert checker.errors == []
    expr = to_sympy(node, checker)
    assert expr.subs(sympy.Symbol("line.quantity"), 8) == 16 * 95
    assert expr.subs(sympy.Symbol("line.quantity"), 20) == 20 * 95


def test_formula_with_a_misspelt_attribute_suggests_it():
    scope = FormulaScope({"cores": 16}, bundle_attributes=["cores"])
    assert type_errors("cors * 95", scope, Type.NUMBER) == [(1, "unknown_name", "unknown name 'cors'", "'cores'")]
