"""sympy formulas (the rule files' compiled expressions) → literals of a CNF.

Booleans become gates; numbers become *linear forms*: a sum of rational coefficients times
conjunctions of literals (an indicator `Piecewise((1, sel[X]), (0, True))` is the literal of X,
a quantity `qty[X]` is its binary expansion, a product of two forms multiplies out into
conjunctions). A comparison of two forms is scaled to integers and becomes one linear atom.
Text equalities (`psu.airflow == fans.airflow`, `context.country == 'CN'`) are expanded over the
cases of their Piecewise sides; an equality that involves a context field becomes a *context
atom*, a variable whose value each request assumes from its context (via `bind_text_fields`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from math import lcm

import sympy
from sympy.core.relational import Relational

from cpq.configurator.cnf import CNF, IntVar
from cpq.ruleset.scopes import CONTEXT_FIELDS

Linear = dict[frozenset[int], Fraction]  # conjunction of literals → coefficient; frozenset() = constant
CONTEXT_NAMES = frozenset(f"{group}.{name}" for group, fields in CONTEXT_FIELDS.items() for name in fields)


class UnsupportedExpression(Exception):
    """A construct the solver encoding does not cover (e.g. dividing by a variable)."""


def _is_text_atom(e) -> bool:
    return isinstance(e, sympy.Symbol) and e.name.startswith("'")


def _is_field(e) -> bool:
    return isinstance(e, sympy.Symbol) and e.name in CONTEXT_NAMES


def is_text(e) -> bool:
    if _is_text_atom(e) or _is_field(e):
        return True
    if isinstance(e, sympy.Piecewise):
        return any(is_text(value) for value, _ in e.args)
    return False


class Translator:
    """Turns sympy expressions over one product's symbols into CNF literals."""

    def __init__(self, cnf: CNF, sel: Mapping[str, int], qty: Mapping[str, IntVar],
                 comp: Mapping[str, IntVar], context_atom: Callable[[sympy.Basic], int]):
        self.cnf = cnf
        self.sel = sel
        self.qty = qty
        self.comp = comp
        self.context_atom = context_atom
        self._cache: dict[sympy.Basic, int] = {}

    # ------------------------------------------------------------------ booleans
    def lit(self, e) -> int:
        """A literal equivalent to the boolean expression e."""
        cached = self._cache.get(e)
        if cached is None:
            cached = self._cache[e] = self._lit(e)
        return cached

    def _lit(self, e) -> int:
        cnf = self.cnf
        if e is sympy.true or e is True:
            return cnf.TRUE
        if e is sympy.false or e is False:
            return cnf.FALSE
        if isinstance(e, sympy.Symbol):
            return self._bool_symbol(e)
        if isinstance(e, sympy.And):
            return cnf.and_gate(self.lit(a) for a in e.args)
        if isinstance(e, sympy.Or):
            return cnf.or_gate(self.lit(a) for a in e.args)
        if isinstance(e, sympy.Not):
            return -self.lit(e.args[0])
        if isinstance(e, sympy.Implies):
            return cnf.or_gate([-self.lit(e.args[0]), self.lit(e.args[1])])
        if isinstance(e, sympy.Equivalent):
            lits = [self.lit(a) for a in e.args]
            return cnf.or_gate([cnf.and_gate(lits), cnf.and_gate(-x for x in lits)])
        if isinstance(e, sympy.Xor):
            result = cnf.FALSE
            for a in e.args:
                result = cnf.xor_gate(result, self.lit(a))
            return result
        if isinstance(e, sympy.ITE):
            c, a, b = (self.lit(x) for x in e.args)
            return cnf.or_gate([cnf.and_gate([c, a]), cnf.and_gate([-c, b])])
        if isinstance(e, sympy.Piecewise):
            return cnf.or_gate(cnf.and_gate([guard, self.lit(value)]) for guard, value in self._cases(e))
        if isinstance(e, Relational):
            return self._relation(e)
        raise UnsupportedExpression(f"cannot encode {type(e).__name__}: {e}")

    def _bool_symbol(self, s: sympy.Symbol) -> int:
        name = s.name
        if name.startswith("sel[") and name[4:-1] in self.sel:
            return self.sel[name[4:-1]]
        if name.startswith("comp[") and name[5:-1] in self.comp:
            return self.comp[name[5:-1]].active
        raise UnsupportedExpression(f"unknown yes/no name '{name}'")

    def _cases(self, pw: sympy.Piecewise) -> list[tuple[int, sympy.Basic]]:
        """(guard literal, value) for each case: guard = its condition and no earlier one."""
        out, none_before = [], []
        for value, cond in pw.args:
            c = self.lit(cond)
            out.append((self.cnf.and_gate([c, *none_before]), value))
            none_before.append(-c)
            if c == self.cnf.TRUE:
                break
        return out

    # ------------------------------------------------------------------ relations
    def _relation(self, e: Relational) -> int:
        lhs, rhs = e.args
        if is_text(lhs) or is_text(rhs):
            if not isinstance(e, sympy.Eq | sympy.Ne):
                raise UnsupportedExpression(f"texts can only be compared with == and !=: {e}")
            same = self._text_equal(lhs, rhs)
            return same if isinstance(e, sympy.Eq) else -same
        diff = self.linear(lhs)
        for key, coef in self.linear(rhs).items():
            diff[key] = diff.get(key, Fraction(0)) - coef
        scale = 1
        for coef in diff.values():
            scale = lcm(scale, coef.denominator)
        constant = int(diff.pop(frozenset(), Fraction(0)) * scale)
        terms = [(int(coef * scale), self.cnf.and_gate(key)) for key, coef in diff.items() if coef]
        # Σ terms + constant  op  0
        le = self.cnf.linear_le(terms, -constant)  # ≤ 0
        ge = self.cnf.linear_le([(-c, lit) for c, lit in terms], constant)  # ≥ 0
        if isinstance(e, sympy.Le):
            return le
        if isinstance(e, sympy.Ge):
            return ge
        if isinstance(e, sympy.Lt):
            return self.cnf.linear_le(terms, -constant - 1)
        if isinstance(e, sympy.Gt):
            return self.cnf.linear_le([(-c, lit) for c, lit in terms], constant - 1)
        if isinstance(e, sympy.Eq):
            return self.cnf.and_gate([le, ge])
        if isinstance(e, sympy.Ne):
            return -self.cnf.and_gate([le, ge])
        raise UnsupportedExpression(f"cannot encode relation {e}")  # pragma: no cover

    def _text_cases(self, e) -> list[tuple[int, sympy.Basic]]:
        if _is_text_atom(e) or _is_field(e):
            return [(self.cnf.TRUE, e)]
        if isinstance(e, sympy.Piecewise):
            return [(g2 if g1 == self.cnf.TRUE else self.cnf.and_gate([g1, g2]), v)
                    for g1, value in self._cases(e) for g2, v in self._text_cases(value)]
        raise UnsupportedExpression(f"not a text value: {e}")

    def _text_equal(self, a, b) -> int:
        options = []
        for ga, va in self._text_cases(a):
            for gb, vb in self._text_cases(b):
                if _is_text_atom(va) and _is_text_atom(vb):
                    same = self.cnf.const(va == vb)
                else:
                    same = self.context_atom(sympy.Eq(va, vb, evaluate=False))
                options.append(self.cnf.and_gate([ga, gb, same]))
        return self.cnf.or_gate(options)

    # ------------------------------------------------------------------ numbers
    def linear(self, e) -> Linear:
        """e as Σ coefficient × conjunction of literals."""
        if isinstance(e, sympy.Number):
            if not isinstance(e, sympy.Rational):
                raise UnsupportedExpression(f"inexact number {e}")
            return {frozenset(): Fraction(int(e.p), int(e.q))} if e != 0 else {}
        if isinstance(e, sympy.Symbol):
            var = self._int_symbol(e)
            return _sum_terms((Fraction(c), frozenset(lits)) for c, lits in var.terms())
        if isinstance(e, sympy.Add):
            out: Linear = {}
            for a in e.args:
                _add_into(out, self.linear(a))
            return out
        if isinstance(e, sympy.Mul):
            out = {frozenset(): Fraction(1)}
            for a in e.args:
                out = self._times(out, self.linear(a))
            return out
        if isinstance(e, sympy.Pow):
            base, exp = e.args
            if not (exp.is_Integer and exp >= 0):
                raise UnsupportedExpression(f"only whole powers of variables can be encoded: {e}")
            out = {frozenset(): Fraction(1)}
            factor = self.linear(base)
            for _ in range(int(exp)):
                out = self._times(out, factor)
            return out
        if isinstance(e, sympy.Piecewise):
            out = {}
            for guard, value in self._cases(e):
                _add_into(out, self._times({frozenset((guard,)): Fraction(1)}, self.linear(value)))
            return out
        if isinstance(e, sympy.Min | sympy.Max):
            args = list(e.args)
            best = args[0]
            for other in args[1:]:
                keep = sympy.Le(best, other) if isinstance(e, sympy.Min) else sympy.Ge(best, other)
                best = sympy.Piecewise((best, keep), (other, True), evaluate=False)
            return self.linear(best)
        if isinstance(e, sympy.Abs):
            inner = e.args[0]
            return self.linear(sympy.Piecewise((inner, sympy.Ge(inner, 0)), (-inner, True), evaluate=False))
        raise UnsupportedExpression(f"cannot encode {type(e).__name__}: {e}")

    def _int_symbol(self, s: sympy.Symbol) -> IntVar:
        name = s.name
        if name.startswith("qty[") and name[4:-1] in self.qty:
            return self.qty[name[4:-1]]
        if name.startswith("compqty[") and name[8:-1] in self.comp:
            return self.comp[name[8:-1]]
        raise UnsupportedExpression(f"unknown number name '{name}'")

    def _times(self, a: Linear, b: Linear) -> Linear:
        out: Linear = {}
        for ka, ca in a.items():
            for kb, cb in b.items():
                key = ka | kb
                if any(-lit in key for lit in key) or -self.cnf.TRUE in key:
                    continue
                key = frozenset(lit for lit in key if lit != self.cnf.TRUE)
                out[key] = out.get(key, Fraction(0)) + ca * cb
        return {k: v for k, v in out.items() if v}


def _add_into(out: Linear, more: Linear) -> None:
    for key, coef in more.items():
        total = out.get(key, Fraction(0)) + coef
        if total:
            out[key] = total
        else:
            out.pop(key, None)


def _sum_terms(items) -> Linear:
    out: Linear = {}
    for coef, key in items:
        _add_into(out, {key: coef})
    return out
