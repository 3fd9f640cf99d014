"""The rules-engine port: forward-chaining rule matching through durable_rules, behind this one module.

durable_rules (2.0.28, unmaintained since 2020, no build for Python 3.13) keeps one engine per
process and names rulesets globally, so every use goes through `RuleProgram`, which gives its
rulesets unique names, splits rule sets into chunks (one durable ruleset of more than ~510 rules
hangs while registering; a fact matching more than 64 rules of one ruleset fails with error 303),
and serialises evaluations with a lock.

Conditions arrive as sympy booleans (the form every rule-file expression is compiled to). They are
put in negation normal form and translated into durable conditions over one fact per evaluation:
each free symbol becomes a fact field; text atoms become string constants; a comparison
`L op R` becomes `zero op (R - L)` because durable wants a plain field on the left. Numeric terms
durable has no operator for (piecewise indicators, min/max, abs, subtotal()) are "lifted": their
value is computed exactly in Python from the same fact and handed to durable as a field.
Numbers reach durable as floats (JSON); rule conditions compare thresholds, they never make a price.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import sympy
from durable import engine as durable_engine
from durable import lang as durable

from cpq.ruleset.scopes import constant, is_text

# Measured with durable-rules 2.0.28: registering one ruleset of more than ~510 rules hangs, and a
# fact that matches more than 64 rules of one ruleset fails with engine error 303. Chunks of 64
# rules avoid both.
MAX_RULES_PER_RULESET = 64
MAX_RULES = 20_000

_lock = threading.RLock()
_names = itertools.count(1)


class RuleProgramError(Exception):
    """A rule set the engine cannot take (too many rules, an unsupported construct)."""


@dataclass(frozen=True)
class _Lifted:
    field: str
    expr: sympy.Basic


class _Translator:
    """sympy boolean → durable condition; records the fields a fact must carry."""

    def __init__(self) -> None:
        self.fields: dict[sympy.Symbol, str] = {}
        self.lifted: dict[sympy.Basic, _Lifted] = {}

    def field(self, symbol: sympy.Symbol):
        name = self.fields.setdefault(symbol, f"f{len(self.fields)}")
        return getattr(durable.m, name)

    def condition(self, expr: sympy.Basic):
        expr = sympy.to_nnf(expr, simplify=False) if isinstance(expr, sympy.logic.boolalg.Boolean) else expr
        return self._bool(expr)

    def _bool(self, e):
        if e is sympy.true:
            return durable.m.zero == 0
        if e is sympy.false:
            return durable.m.zero == 1
        if isinstance(e, sympy.And):
            return _fold(lambda a, b: a & b, [self._bool(a) for a in e.args])
        if isinstance(e, sympy.Or):
            return _fold(lambda a, b: a | b, [self._bool(a) for a in e.args])
        if isinstance(e, sympy.Not):
            inner = e.args[0]
            if isinstance(inner, sympy.Symbol):
                return self.field(inner) == False  # noqa: E712 - durable's DSL builds a condition from ==
            if isinstance(inner, sympy.core.relational.Relational):
                return self._bool(inner.negated)
            raise RuleProgramError(f"cannot negate {inner}")  # pragma: no cover - NNF leaves only these
        if isinstance(e, sympy.Symbol):
            return self.field(e) == True  # noqa: E712
        if isinstance(e, sympy.Eq | sympy.Ne):
            return self._equality(e)
        if isinstance(e, sympy.core.relational.Relational):
            return self._compare(type(e), e.lhs, e.rhs)
        raise RuleProgramError(f"unsupported condition {e}")

    def _equality(self, e):
        lhs, rhs = e.args
        if is_text(lhs) or is_text(rhs):
            if is_text(lhs) and is_text(rhs):
                same = (lhs == rhs) == isinstance(e, sympy.Eq)
                return self._bool(sympy.true if same else sympy.false)
            field, text = (lhs, rhs) if is_text(rhs) else (rhs, lhs)
            value = text.name[1:-1]
            return self.field(field) == value if isinstance(e, sympy.Eq) else self.field(field) != value
        return self._compare(type(e), lhs, rhs)

    def _compare(self, op, lhs, rhs):
        difference = self._number(sympy.expand(rhs - lhs))
        zero = durable.m.zero
        return {
            sympy.Lt: lambda: zero < difference,
            sympy.Le: lambda: zero <= difference,
            sympy.Gt: lambda: zero > difference,
            sympy.Ge: lambda: zero >= difference,
            sympy.Eq: lambda: zero == difference,
            sympy.Ne: lambda: zero != difference,
        }[op]()

    def _number(self, e):
        """A numeric durable operand: a constant, a field, or binary arithmetic over them."""
        if e.is_Number:
            return float(e)
        if isinstance(e, sympy.Symbol):
            return self.field(e)
        if isinstance(e, sympy.Add | sympy.Mul):
            # durable wants a field on the left of arithmetic: fields first, the constant last
            constant, terms = e.as_independent(*e.free_symbols, as_Add=isinstance(e, sympy.Add)) if e.free_symbols else (e, [])
            parts = [self._number(t) for t in sympy.Add.make_args(terms)] if isinstance(e, sympy.Add) else \
                [self._number(t) for t in sympy.Mul.make_args(terms)]
            combine = (lambda a, b: a + b) if isinstance(e, sympy.Add) else (lambda a, b: a * b)
            result = _fold(combine, parts) if parts else None
            neutral = 0 if isinstance(e, sympy.Add) else 1
            if result is None:
                return float(constant)
            return result if constant == neutral else combine(result, float(constant))
        lifted = self.lifted.get(e)
        if lifted is None:
            lifted = self.lifted[e] = _Lifted(f"t{len(self.lifted)}", e)
        return getattr(durable.m, lifted.field)


def _fold(combine, items):
    result = items[0]
    for item in items[1:]:
        result = combine(result, item)
    return result


def _plain(value):
    if isinstance(value, bool | str):
        return value
    if isinstance(value, sympy.logic.boolalg.BooleanAtom):
        return bool(value)
    if isinstance(value, int | Decimal | float):
        return float(value)
    if isinstance(value, sympy.Basic) and value.is_Number:
        return float(value)
    if isinstance(value, sympy.Symbol) and is_text(value):
        return value.name[1:-1]
    raise RuleProgramError(f"cannot pass {value!r} to the rules engine")


class RuleProgram:
    """A set of (rule id, condition) compiled once; `matching(values)` returns the ids that hold."""

    def __init__(self, rules: Sequence[tuple[str, sympy.Basic]], label: str = "rules"):
        if len(rules) > MAX_RULES:
            raise RuleProgramError(f"{len(rules)} rules in '{label}': the rules engine takes at most {MAX_RULES}")
        self.rule_ids = [rule_id for rule_id, _ in rules]
        self._translator = _Translator()
        self._conditions = [(rule_id, self._translator.condition(cond)) for rule_id, cond in rules]
        self._fired: dict[str, list[str]] = {}
        self._rulesets: list[str] = []
        with _lock:
            for start in range(0, len(self._conditions), MAX_RULES_PER_RULESET):
                name = f"cpq-{label}-{next(_names)}"
                with durable.ruleset(name):
                    for rule_id, condition in self._conditions[start:start + MAX_RULES_PER_RULESET]:
                        durable.when_all(condition)(self._action(rule_id))
                self._rulesets.append(name)

    @property
    def symbols(self) -> list[sympy.Symbol]:
        """The symbols a fact must give values for."""
        lifted_symbols = {s for item in self._translator.lifted.values() for s in item.expr.free_symbols}
        return sorted(set(self._translator.fields) | {s for s in lifted_symbols if not is_text(s)}, key=str)

    def _action(self, rule_id: str):
        def fired(c):
            self._fired.setdefault(c.m.eval_id, []).append(rule_id)

        fired.__name__ = f"rule_{abs(hash(rule_id))}"
        return fired

    def matching(self, values: Mapping[sympy.Symbol, object]) -> list[str]:
        """Ids of the rules whose condition holds for these symbol values, in rule-file order."""
        if not self._conditions:
            return []
        fact = {"zero": 0}
        for symbol, field in self._translator.fields.items():
            if symbol not in values:
                raise RuleProgramError(f"no value for '{symbol}'")
            fact[field] = _plain(values[symbol])
        if self._translator.lifted:
            exact = {k: v if isinstance(v, sympy.Basic) else constant(v) for k, v in values.items()}
            for item in self._translator.lifted.values():
                fact[item.field] = _plain(sympy.simplify(item.expr.xreplace(exact)))
        with _lock:
            eval_id = f"e{next(_names)}"
            fact["eval_id"] = eval_id
            try:
                for name in self._rulesets:
                    # a fact no rule matches is "not handled": that is an answer, not an error
                    with contextlib.suppress(durable_engine.MessageNotHandledException):
                        durable.assert_fact(name, dict(fact))
                    with contextlib.suppress(durable_engine.MessageNotHandledException):
                        durable.retract_fact(name, dict(fact))
            finally:
                fired = self._fired.pop(eval_id, [])
        order = {rule_id: i for i, rule_id in enumerate(self.rule_ids)}
        return sorted(set(fired), key=order.__getitem__)
