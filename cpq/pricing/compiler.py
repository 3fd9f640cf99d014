"""Compile rule-file expressions (their sympy form) into fast Python closures with exact arithmetic.

This is pricing's "lambdify": each sympy node becomes a closure once per Ruleset, so a quote never
touches sympy, text is never evaluated (no eval/exec/sympify), and numbers stay exact
(`int`/`Fraction`; constants come from sympy Rationals, which came from the rule text via
Decimal). An expression reads its inputs from an environment: `env[name]` for a dotted field
(`line.quantity`, `account.segment`, `bundle.cores`) and `env.subtotal(key)` for `subtotal(…)`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import sympy
from sympy.logic.boolalg import BooleanFalse, BooleanTrue

from cpq.ruleset.scopes import Subtotal

Fn = Callable[[object], object]
# quote.* facts that are sums over the quote's lines: an expression using them waits for the lines
QUOTE_TOTALS = frozenset({"quote.total", "quote.list_total", "quote.discount_percent", "quote.margin_percent"})


class UnsupportedExpression(Exception):
    """A sympy construct this compiler does not translate (the grammar never produces one)."""


@dataclass
class SubtotalRegistry:
    """Every distinct `subtotal(predicate)` of a Ruleset, with its compiled line predicate."""

    keys: dict[sympy.Basic, int] = field(default_factory=dict)
    predicates: list[Fn] = field(default_factory=list)
    exprs: list[sympy.Basic] = field(default_factory=list)

    def add(self, predicate: sympy.Basic) -> int:
        key = self.keys.get(predicate)
        if key is None:
            fn = _compile(predicate, self)
            key = self.keys[predicate] = len(self.predicates)
            self.predicates.append(fn)
            self.exprs.append(Subtotal(predicate))
        return key


@dataclass(frozen=True)
class CompiledExpression:
    """A closure plus what it reads, so callers know when it can be evaluated and how often."""

    fn: Fn
    names: frozenset[str]
    uses_line: bool  # reads line.* outside subtotal(): must be judged per line
    uses_totals: bool  # reads subtotal() or a quote total: must wait until the lines are priced
    subtotals: tuple[int, ...]  # registry keys of the subtotal() calls it makes

    def __call__(self, env):
        return self.fn(env)


def compile_expression(expr: sympy.Basic, registry: SubtotalRegistry) -> CompiledExpression:
    """Compile one checked expression (`Expression.symbolic`) into a CompiledExpression."""
    names = frozenset(_names_outside_subtotal(expr))
    subtotal_keys = tuple(registry.add(s.args[0]) for s in sorted(expr.atoms(Subtotal), key=str))
    fn = _compile(expr, registry)
    return CompiledExpression(
        fn=fn,
        names=names,
        uses_line=any(n.startswith("line.") for n in names),
        uses_totals=bool(subtotal_keys) or bool(names & QUOTE_TOTALS),
        subtotals=subtotal_keys,
    )


def _names_outside_subtotal(expr: sympy.Basic):
    if isinstance(expr, Subtotal):
        return
    if isinstance(expr, sympy.Symbol):
        if not expr.name.startswith("'"):
            yield expr.name
        return
    for arg in expr.args:
        yield from _names_outside_subtotal(arg)


def _const(value) -> Fn:
    return lambda env: value


def _lookup(name: str) -> Fn:
    return lambda env: env[name]


def _compile(e: sympy.Basic, registry: SubtotalRegistry) -> Fn:
    if isinstance(e, BooleanTrue):
        return _const(True)
    if isinstance(e, BooleanFalse):
        return _const(False)
    if isinstance(e, sympy.Integer):
        return _const(int(e))
    if isinstance(e, sympy.Rational):
        return _const(Fraction(int(e.p), int(e.q)))
    if isinstance(e, sympy.Symbol):
        if e.name.startswith("'"):
            return _const(e.name[1:-1])
        return _lookup(e.name)
    if isinstance(e, Subtotal):
        key = registry.add(e.args[0])
        return lambda env: env.subtotal(key)
    if isinstance(e, sympy.Add):
        return _fold(operator.add, [_compile(a, registry) for a in e.args])
    if isinstance(e, sympy.Mul):
        return _fold(operator.mul, [_compile(a, registry) for a in e.args])
    if isinstance(e, sympy.Pow):
        base, exponent = e.args
        if not isinstance(exponent, sympy.Integer):
            raise UnsupportedExpression(f"non-integer power in {e}")
        b, n = _compile(base, registry), int(exponent)
        if n < 0:
            return lambda env: Fraction(1) / (b(env) ** -n)
        return lambda env: b(env) ** n
    if isinstance(e, sympy.Min | sympy.Max):
        pick = min if isinstance(e, sympy.Min) else max
        parts = [_compile(a, registry) for a in e.args]
        return lambda env: pick(p(env) for p in parts)
    if isinstance(e, sympy.Abs):
        inner = _compile(e.args[0], registry)
        return lambda env: abs(inner(env))
    if isinstance(e, sympy.Piecewise):
        pieces = [(_compile(c, registry), _compile(v, registry)) for v, c in e.args]

        def piecewise(env):
            for cond, value in pieces:
                if cond(env):
                    return value(env)
            raise UnsupportedExpression(f"no branch of {e} holds")  # pragma: no cover - last is True

        return piecewise
    if isinstance(e, sympy.And):
        parts = [_compile(a, registry) for a in e.args]
        if len(parts) == 2:  # the common "a and b": no generator per evaluation
            first, second = parts
            return lambda env: bool(first(env) and second(env))
        return lambda env: all(p(env) for p in parts)
    if isinstance(e, sympy.Or):
        parts = [_compile(a, registry) for a in e.args]
        if len(parts) == 2:
            first, second = parts
            return lambda env: bool(first(env) or second(env))
        return lambda env: any(p(env) for p in parts)
    if isinstance(e, sympy.Not):
        inner = _compile(e.args[0], registry)
        return lambda env: not inner(env)
    relation = _RELATIONS.get(type(e))
    if relation is not None:
        return _relation(relation, e.args[0], e.args[1], registry)
    raise UnsupportedExpression(f"cannot compile {type(e).__name__}: {e}")


def _leaf(e: sympy.Basic) -> tuple[str, object] | None:
    """("name", field) or ("value", constant) for a symbol or constant, as _compile reads them; else None."""
    if isinstance(e, BooleanTrue | BooleanFalse | sympy.Rational):
        return "value", _compile(e, None)(None)  # constants need no registry
    if isinstance(e, sympy.Symbol):
        return ("value", e.name[1:-1]) if e.name.startswith("'") else ("name", e.name)
    return None


def _relation(relation, lhs: sympy.Basic, rhs: sympy.Basic, registry: SubtotalRegistry) -> Fn:
    """A comparison; a field against a constant (`line.quantity >= 5`, the usual condition) is one call."""
    left, right = _leaf(lhs), _leaf(rhs)
    if left is not None and right is not None and "name" in (left[0], right[0]):
        (left_kind, a), (right_kind, b) = left, right
        if left_kind == "name" and right_kind == "value":
            return lambda env: relation(env[a], b)
        if left_kind == "value":
            return lambda env: relation(a, env[b])
        return lambda env: relation(env[a], env[b])
    left_fn, right_fn = _compile(lhs, registry), _compile(rhs, registry)
    return lambda env: relation(left_fn(env), right_fn(env))


_RELATIONS = {
    sympy.Eq: operator.eq, sympy.Ne: operator.ne, sympy.Lt: operator.lt,
    sympy.Le: operator.le, sympy.Gt: operator.gt, sympy.Ge: operator.ge,
}


def _fold(op, parts: list[Fn]) -> Fn:
    if len(parts) == 2:
        a, b = parts
        return lambda env: op(a(env), b(env))

    def fold(env):
        value = parts[0](env)
        for p in parts[1:]:
            value = op(value, p(env))
        return value

    return fold
