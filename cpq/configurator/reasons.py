"""Why something is impossible: the user choices, rules and context facts in an UNSAT core."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from cpq.configurator.model import Assumptions, CompiledProduct, RuleRef
from cpq.configurator.selection import Choice


@dataclass(frozen=True)
class Reason:
    """Choices + rules (+ context facts) that together rule something out."""

    choices: tuple[Choice, ...]
    rules: tuple[RuleRef, ...]
    context: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"choices": [c.as_dict() for c in self.choices], "rules": [r.as_dict() for r in self.rules],
                "context": list(self.context)}


def _key(choice: Choice) -> tuple:
    return (choice.kind, choice.target, choice.quantity)


def atom_text(expr: sympy.Basic) -> str:
    """`context.country == 'CN'` for a context atom."""
    a, b = expr.args
    if b.name.startswith("'") and not a.name.startswith("'"):
        return f"{a.name} == {b.name}"
    return f"{b.name} == {a.name}"


def context_facts(model: CompiledProduct, lits) -> tuple[str, ...]:
    """Context atoms as the facts they state (`context.country == 'CN'` / `!=`)."""
    out = []
    by_var = {var: expr for expr, var in model.atom_list}
    for lit in lits:
        expr = by_var.get(abs(lit))
        if expr is not None:
            text = atom_text(expr)
            out.append(text if lit > 0 else text.replace(" == ", " != ", 1))
    return tuple(out)


MAX_MINIMISED = 16  # cores up to this many choices + rules are shrunk to a minimal one …
MINIMISE_UP_TO_RULES = 100  # … in products with at most this many rules (catalog products; not CLib-sized models)
MAX_CACHED_REASONS = 50_000


class ReasonFinder:
    """Finds a reason for each literal the main solver proved impossible under the assumptions.

    In order of cost: a reason found at an earlier step whose choices are all still made (adding
    choices never makes a blocked value possible again); a full single-choice feature ("choose
    one" with another option chosen); else the main solver's core names the choices, and one call
    of the explain solver — selectors as assumptions, rules that mention the option or a chosen
    option first — names the rules and context facts. Small cores are shrunk to minimal ones.
    """

    def __init__(self, model: CompiledProduct, assumptions: Assumptions):
        self.model = model
        self.assumptions = assumptions
        self.choice_of: dict[int, Choice] = {}
        for choice, lits in assumptions.choices:
            for lit in lits:
                self.choice_of.setdefault(lit, choice)
        self.made = {_key(c) for c, _ in assumptions.choices}
        self.rule_of_selector = {s: i for i, s in enumerate(model.selectors)}
        self.base = assumptions.literals()
        self._order: list[int] | None = None
        self.chosen_in: dict[str, list[Choice]] = {}
        for choice, _ in assumptions.choices:
            if choice.kind == "option":
                self.chosen_in.setdefault(model.feature_of[choice.target].id, []).append(choice)
        self.feature_rule = {r.id: r for r in model.rules if r.kind == "feature"}

    @property
    def order(self) -> list[int]:
        """All selectors, those of rules touching a chosen option first."""
        if self._order is None:
            model = self.model
            touched = set()
            for choice, _ in self.assumptions.choices:
                touched.update(model.rules_of_option.get(choice.target, ()))
            rest = [i for i in range(len(model.rules)) if i not in touched] if touched else range(len(model.rules))
            self._order = [model.selectors[i] for i in sorted(touched)] + [model.selectors[i] for i in rest]
        return self._order

    def why(self, lit: int, option: str | None = None) -> Reason | None:
        """Why `lit` cannot hold (None if it can: then the caller's proof was wrong)."""
        model = self.model
        key = (self.assumptions.context, lit)
        for made, reason in model.reason_cache.get(key, ()):
            if made <= self.made:
                return reason
        reason = self._full_feature(lit, option) or self._search(lit, option)
        if reason is not None:
            model.reason_cache.setdefault(key, []).append((frozenset(_key(c) for c in reason.choices), reason))
            if len(model.reason_cache) > MAX_CACHED_REASONS:
                model.reason_cache.clear()
        return reason

    def _full_feature(self, lit: int, option: str | None) -> Reason | None:
        """Another option fills a feature that takes one: the buyer's choice and the feature's rule."""
        if lit < 0 or option is None:
            return None
        feature = self.model.feature_of[option]
        chosen = [c for c in self.chosen_in.get(feature.id, ()) if c.target != option]
        if feature.max != 1 or not chosen:
            return None
        return Reason((chosen[0],), (self.feature_rule[feature.id],))

    def _search(self, lit: int, option: str | None) -> Reason | None:
        model = self.model
        main = model.main_solver()
        if main.solve(assumptions=[*self.base, lit]):
            return None
        core = set(main.get_core() or ())
        context = [x for x in self.assumptions.context if x in core]
        choice_lits = [x for x in self.choice_of if x in core]
        front = [model.selectors[i] for i in model.rules_of_option.get(option, ())] if option else []
        solver = model.explain_solver()
        if solver.solve(assumptions=[lit, *context, *choice_lits, *front, *self.order]):  # pragma: no cover
            return None
        core = set(solver.get_core() or ())
        choices = list(dict.fromkeys(c for x, c in self.choice_of.items() if x in core))
        rules = sorted({self.rule_of_selector[s] for s in core if s in self.rule_of_selector})
        if 1 < len(choices) + len(rules) <= MAX_MINIMISED and len(model.rules) <= MINIMISE_UP_TO_RULES:
            choices, rules = self._minimise(lit, choices, rules)
        facts = context_facts(model, [x for x in self.assumptions.context if x in core])
        return Reason(tuple(choices), tuple(model.rules[i] for i in rules), facts)
    def _minimise(self, lit: int, choices: list[Choice], rules: list[int]) -> tuple[list[Choice], list[int]]:
        """A minimal sub-core: dropping any choice or rule would let `lit` hold (QuickXplain)."""
        from cpq.configurator.explain import quickxplain

        model = self.model
        solver = model.explain_solver()
        lits_of = {id(c): ls for c, ls in self.assumptions.choices}
        background = [lit, *self.assumptions.context]
        items = [("c", c) for c in choices] + [("r", i) for i in rules]

        def consistent(subset) -> bool:
            assumed = list(background)
            for kind, item in subset:
                assumed.extend(lits_of[id(item)] if kind == "c" else [model.selectors[item]])
            return solver.solve(assumptions=assumed)

        found = quickxplain(items, consistent)
        if not found:
            return choices, rules
        return [x for k, x in found if k == "c"], sorted(x for k, x in found if k == "r")
