"""A brute-force oracle for small products: enumerate every configuration, judge it with sympy.

It shares nothing with the solver encoding: each rule's sympy formula (as the loader built it)
is evaluated on concrete values, and the product semantics are written out here from the spec:
an option is chosen with a quantity in [max(min, 1), max] or not chosen (quantity 0); a feature
holds between min and max chosen options; components range over [min, max]; filter rules forbid
their hidden options when their condition holds; validation rules must hold.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import sympy

from cpq.catalog import Product
from cpq.ruleset.model import Ruleset
from cpq.ruleset.scopes import CONTEXT_FIELDS, bind_text_fields

CONTEXT_NAMES = [f"{g}.{f}" for g, fs in CONTEXT_FIELDS.items() for f in fs]


@dataclass(frozen=True)
class Config:
    qty: tuple[int, ...]  # per option, 0 = not chosen
    comp: tuple[int, ...]  # per component


class Oracle:
    def __init__(self, ruleset: Ruleset, product_id: str, context: Mapping[str, str] | None = None):
        self.product: Product = ruleset.products[product_id]
        self.options = list(self.product.option_ids)
        self.components = list(self.product.components)
        self.context = {name: "" for name in CONTEXT_NAMES} | dict(context or {})
        self.domains = []
        for o in self.options:
            q = ruleset.options[o].quantity
            lo = max(q.min, 1)
            self.domains.append([0, *range(lo, max(q.max, lo) + 1)])
        self.comp_domains = [list(range(c.min, c.max + 1)) for c in self.components]
        self.rules = self._rules()
        self.all = list(self._enumerate())
        self.valid = [c for c in self.all if not self.violated(c)]

    def _rules(self) -> list[tuple[str, object]]:
        out = []
        for f in self.product.features:
            out.append((f.id, ("feature", f)))
        for c in self.product.constraints:
            out.append((c.id, c.formula))
        for r in self.product.rules:
            if r.kind == "validation":
                formula = r.check.symbolic
                if r.when is not None:
                    formula = sympy.Implies(r.when.symbolic, formula)
                out.append((r.id, formula))
            elif r.kind == "filter":
                when = r.when.symbolic if r.when is not None else sympy.true
                out.append((r.id, sympy.Implies(when, sympy.And(*(sympy.Not(sympy.Symbol(f"sel[{h}]")) for h in r.hide)))))
        return [(rid, self._table(rule)) for rid, rule in out]

    def _values(self, config: Config) -> dict:
        values = {}
        for o, q in zip(self.options, config.qty, strict=True):
            values[f"sel[{o}]"] = sympy.true if q else sympy.false
            values[f"qty[{o}]"] = sympy.Integer(q)
        for c, q in zip(self.components, config.comp, strict=True):
            values[f"comp[{c.id}]"] = sympy.true if q else sympy.false
            values[f"compqty[{c.id}]"] = sympy.Integer(q)
        return values

    def _table(self, rule):
        """Evaluate a formula lazily with memoisation over just its own symbols."""
        if isinstance(rule, tuple):
            return rule
        symbols = sorted((s for s in rule.free_symbols
                          if s.name not in self.context and not s.name.startswith("'")), key=str)
        return ("formula", rule, symbols, {})

    def holds(self, rule, config: Config) -> bool:
        if rule[0] == "feature":
            f = rule[1]
            n = sum(1 for o in f.options if config.qty[self.options.index(o)])
            return f.min <= n <= f.max
        _, formula, symbols, memo = rule
        values = self._values(config)
        key = tuple(values[s.name] for s in symbols)
        if key not in memo:
            result = bind_text_fields(formula.xreplace(dict(zip(symbols, key, strict=True))), self.context)
            result = sympy.simplify(result) if result not in (sympy.true, sympy.false) else result
            assert result in (sympy.true, sympy.false), (formula, key, result)
            memo[key] = result is sympy.true
        return memo[key]

    def violated(self, config: Config) -> set[str]:
        return {rid for rid, rule in self.rules if not self.holds(rule, config)}

    def _enumerate(self):
        for qty in itertools.product(*self.domains):
            for comp in itertools.product(*self.comp_domains):
                yield Config(tuple(qty), tuple(comp))

    # ------------------------------------------------------------------ questions
    def consistent_with(self, config: Config, chosen: Mapping[str, int | None], excluded=(), components=None) -> bool:
        for o, q in chosen.items():
            got = config.qty[self.options.index(o)]
            if not got or (q is not None and got != q):
                return False
        if any(config.qty[self.options.index(o)] for o in excluded):
            return False
        for c, q in (components or {}).items():
            if config.comp[[x.id for x in self.components].index(c)] != q:
                return False
        return True

    def extensions(self, chosen, excluded=(), components=None) -> list[Config]:
        return [c for c in self.valid if self.consistent_with(c, chosen, excluded, components)]

    def domains_of(self, chosen, excluded=(), components=None) -> dict[str, tuple[bool, bool, tuple[int, int] | None]]:
        ext = self.extensions(chosen, excluded, components)
        out = {}
        for i, o in enumerate(self.options):
            qs = [c.qty[i] for c in ext if c.qty[i]]
            out[o] = (bool(qs), any(not c.qty[i] for c in ext), (min(qs), max(qs)) if qs else None)
        return out

    def component_ranges(self, chosen, excluded=(), components=None) -> dict[str, tuple[int, int]]:
        ext = self.extensions(chosen, excluded, components)
        return {c.id: (min(x.comp[j] for x in ext), max(x.comp[j] for x in ext))
                for j, c in enumerate(self.components)} if ext else {}

    def config_of(self, options: Mapping[str, int], components: Mapping[str, int] | None = None) -> Config:
        comp = tuple((components or {}).get(c.id, c.default) for c in self.components)
        return Config(tuple(options.get(o, 0) for o in self.options), comp)

    def cheapest_cost(self, chosen, prices: Mapping[str, Decimal], excluded=(), components=None) -> Decimal | None:
        ext = self.extensions(chosen, excluded, components)
        costs = [sum((prices.get(o, Decimal(0)) * q for o, q in zip(self.options, c.qty, strict=True)), Decimal(0)) for c in ext]
        return min(costs) if costs else None
