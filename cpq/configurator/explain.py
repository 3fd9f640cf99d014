"""Explain an inconsistent selection: a minimal conflict set, the rules behind it, and repairs.

Conflict set: QuickXplain (Junker, 2004) over the buyer's choices, with the context as
background; consistency checks are SAT calls of the main solver under assumptions. The set is
minimal: dropping any one member makes the rest consistent. The rules taking part come from the
explain solver's core for that set, shrunk with the same algorithm over rule selectors.

Repairs: minimal correction sets — smallest-first is not promised, subset-minimal is — found by
growing a maximal consistent subset of the choices (earlier choices are kept first) and blocking
each repair found before looking for the next. A removed option of a feature that needs a value
is turned into "change X to Z" when some Z fits with the kept choices; a quantity into "change
the quantity"; an exclusion into "allow X".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cpq.configurator.model import Assumptions, CompiledProduct, RuleRef
from cpq.configurator.reasons import context_facts
from cpq.configurator.selection import Choice, choice_literals

MAX_RULE_MINIMISATION = 400  # selectors; larger cores are reported as found


@dataclass(frozen=True)
class Repair:
    """One way out: actions such as {"action": "remove", "option": X} or "change"/"quantity"/"allow"."""

    remove: tuple[Choice, ...]
    actions: tuple[dict, ...]

    def as_dict(self) -> dict:
        return {"remove": [c.as_dict() for c in self.remove], "actions": list(self.actions)}


@dataclass
class Explanation:
    consistent: bool
    conflict: tuple[Choice, ...] = ()
    rules: tuple[RuleRef, ...] = ()
    context: tuple[str, ...] = ()
    repairs: list[Repair] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"consistent": self.consistent, "conflict": [c.as_dict() for c in self.conflict],
                "rules": [r.as_dict() for r in self.rules], "context": list(self.context),
                "repairs": [r.as_dict() for r in self.repairs]}


def quickxplain(items: Sequence, consistent: Callable[[list], bool]) -> list:
    """A minimal subset of `items` that is inconsistent, given that all of them together are.

    `consistent(subset)` answers for the background plus that subset.
    """
    if consistent([]):
        if not items or consistent(list(items)):
            return []
        return _qx([], False, list(items), consistent)
    return []  # the background alone is inconsistent: no choice is to blame


def _qx(background: list, has_delta: bool, items: list, consistent) -> list:
    if has_delta and not consistent(background):
        return []
    if len(items) == 1:
        return list(items)
    k = len(items) // 2
    first, second = items[:k], items[k:]
    d2 = _qx(background + first, bool(first), second, consistent)
    d1 = _qx(background + d2, bool(d2), first, consistent)
    return d1 + d2


def explain_assumptions(model: CompiledProduct, assumptions: Assumptions, max_repairs: int = 3) -> Explanation:
    """Conflict set, rules and repairs for the assumptions (call with model.lock held)."""
    solver = model.main_solver()
    context = list(assumptions.context)
    lits_of = {id(c): lits for c, lits in assumptions.choices}
    choices = [c for c, _ in assumptions.choices]

    def consistent(subset: list[Choice]) -> bool:
        return solver.solve(assumptions=context + [x for c in subset for x in lits_of[id(c)]])

    if consistent(choices):
        return Explanation(True)
    if not consistent([]):  # the product cannot be configured at all in this context
        rules, facts = _rules_behind(model, context, [])
        return Explanation(False, (), rules, facts)
    # shrink to the solver's core first: QuickXplain then works on a handful of choices
    core = set(solver.get_core() or ())
    start = [c for c in choices if any(x in core for x in lits_of[id(c)])] or choices
    if consistent(start):  # pragma: no cover - a core is inconsistent by definition
        start = choices
    conflict = quickxplain(start, consistent)
    lits = [x for c in conflict for x in lits_of[id(c)]]
    rules, facts = _rules_behind(model, context, lits)
    repairs = find_repairs(model, assumptions, max_repairs)
    return Explanation(False, tuple(conflict), rules, facts, repairs)


def _rules_behind(model: CompiledProduct, context: list[int], lits: list[int]) -> tuple[tuple[RuleRef, ...], tuple[str, ...]]:
    """The rules (minimal when few) and context facts that make these literals inconsistent."""
    solver = model.explain_solver()
    selectors = model.selectors
    if solver.solve(assumptions=context + lits + list(selectors)):  # pragma: no cover - the solvers agree
        return (), ()
    core = set(solver.get_core() or ())
    index_of = {s: i for i, s in enumerate(selectors)}
    involved = [index_of[s] for s in selectors if s in core]
    if len(involved) <= MAX_RULE_MINIMISATION:
        def consistent(subset: list[int]) -> bool:
            return solver.solve(assumptions=context + lits + [selectors[i] for i in subset])

        involved = quickxplain(involved, consistent) or involved
    facts = context_facts(model, [x for x in context if x in core])
    return tuple(model.rules[i] for i in sorted(involved)), facts


def find_repairs(model: CompiledProduct, assumptions: Assumptions, limit: int) -> list[Repair]:
    """Up to `limit` minimal sets of choices to drop, each with suggested replacements."""
    if limit <= 0:
        return []
    cnf = model.cnf
    context = list(assumptions.context)
    choices = [c for c, _ in assumptions.choices]
    lits_of = {id(c): lits for c, lits in assumptions.choices}
    keep_lit = {id(c): cnf.and_gate(lits_of[id(c)]) for c in choices}
    gate = model.activation_literal()  # guards this call's blocking clauses; retired at the end
    solver = model.main_solver()
    repairs: list[Repair] = []
    try:
        while len(repairs) < limit and solver.solve(assumptions=[*context, gate]):
            kept: list[Choice] = []
            for c in choices:
                trial = [*context, gate, *(keep_lit[id(k)] for k in kept), keep_lit[id(c)]]
                if solver.solve(assumptions=trial):
                    kept.append(c)
            dropped = [c for c in choices if c not in kept]
            if not dropped:
                break
            repairs.append(Repair(tuple(dropped), tuple(_actions(model, context, kept, dropped, lits_of))))
            solver.add_clause([-gate, *(keep_lit[id(c)] for c in dropped)])
    finally:
        solver.add_clause([-gate])
    return repairs


def _actions(model: CompiledProduct, context: list[int], kept: list[Choice], dropped: list[Choice], lits_of) -> list[dict]:
    solver = model.main_solver()
    base = context + [x for c in kept for x in lits_of[id(c)]]
    actions: list[dict] = []
    extra: list[int] = []
    for c in dropped:
        action = {"action": "allow", "option": c.target} if c.kind == "excluded" else \
            {"action": "remove", "component" if c.kind == "component" else "option": c.target}
        if c.kind == "option":
            feature = model.feature_of[c.target]
            var = model.qty[c.target]
            if c.quantity is not None and solver.solve(assumptions=[*base, *extra, var.active]):
                q = _nearest_quantity(model, base + extra, var, c.quantity)
                if q is not None:
                    action = {"action": "quantity", "option": c.target, "to": q}
                    extra += choice_literals(model, Choice("option", c.target, q))
            elif feature.min >= 1:
                taken = {k.target for k in kept if k.kind == "option"}
                for z in feature.options:
                    if z != c.target and z not in taken and solver.solve(assumptions=[*base, *extra, model.sel[z]]):
                        action = {"action": "change", "option": c.target, "to": z}
                        extra.append(model.sel[z])
                        break
        elif c.kind == "component":
            q = _nearest_quantity(model, base + extra, model.comp[c.target], c.quantity)
            if q is not None:
                action = {"action": "quantity", "component": c.target, "to": q}
                extra += choice_literals(model, Choice("component", c.target, q))
        actions.append(action)
    return actions


def _nearest_quantity(model: CompiledProduct, base: list[int], var, wanted: int) -> int | None:
    """The feasible value of `var` closest to `wanted` under `base` (ties: the smaller)."""
    solver = model.main_solver()
    cnf = model.cnf
    for distance in range(0, var.hi + 1):
        for q in (wanted - distance, wanted + distance):
            if q < 0 or q > var.hi or (q and q < var.lo):
                continue
            lit = cnf.int_eq(var, q) if q else -var.active
            if solver.solve(assumptions=[*base, lit]):
                return q
        if distance > 64:  # far away: let the solver pick one in the right direction
            break
    if solver.solve(assumptions=base + [var.active]):
        return var.value({x for x in solver.get_model() if x > 0})
    return None
