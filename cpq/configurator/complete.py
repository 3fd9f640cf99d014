"""Complete a partial selection into a full valid configuration.

Objective "defaults": decide the options one by one in catalog order, each to its preferred
value (chosen if the buyer or a selection rule chose it or it is a feature default, else left
out) whenever that is still consistent — a lexicographically greedy, deterministic result that
does not depend on the solver's history. Quantities then go to the asked or default quantity,
or the nearest feasible one.

Objective "cheapest": weighted MaxSAT (RC2 from python-sat) minimising Σ list price × quantity,
with each quantity bit weighted by its place value; ties go to the defaults and smaller quantities.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from pysat.examples.rc2 import RC2
from pysat.formula import WCNF

from cpq.configurator.explain import _nearest_quantity
from cpq.configurator.model import Assumptions, CompiledProduct
from cpq.configurator.rules import (
    Configuration,
    RuleConflict,
    SelectionOutcome,
    default_quantity,
    matching_rules,
)
from cpq.configurator.selection import Choice, assumptions_for

OBJECTIVES = ("defaults", "cheapest")


@dataclass
class Completion:
    configuration: Configuration
    objective: str
    cost: Decimal | None = None
    unpriced: list[str] = field(default_factory=list)
    added: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[RuleConflict] = field(default_factory=list)


def preferred_options(model: CompiledProduct, outcome: SelectionOutcome) -> set[str]:
    """Options the completion prefers to choose: the buyer's and rules' choices, then feature defaults."""
    preferred = {c.target for c in outcome.choices if c.kind == "option"}
    for feature in model.product.features:
        override = outcome.defaults.get(feature.id)
        preferred.update([override[0]] if override else feature.default)
    return preferred


def config_from(model: CompiledProduct, true: set[int]) -> Configuration:
    options = {o: model.qty[o].value(true) for o in model.option_ids if model.sel[o] in true}
    components = {c: var.value(true) for c, var in model.comp.items()}
    return Configuration(options, components)


def greedy_completion(model: CompiledProduct, assumptions: Assumptions, outcome: SelectionOutcome) -> Configuration | None:
    """Defaults-first completion (lock held); None when the assumptions are inconsistent."""
    solver = model.main_solver()
    base = assumptions.literals()
    preferred = preferred_options(model, outcome)
    sel = model.sel
    solver.set_phases([sel[o] if o in preferred else -sel[o] for o in model.option_ids])
    if not solver.solve(assumptions=base):
        return None
    current = solver.get_model()
    decisions: list[int] = []
    for o in model.option_ids:
        v = sel[o]
        want = v if o in preferred else -v
        if (current[v - 1] > 0) == (want > 0):
            decisions.append(want)
        elif solver.solve(assumptions=[*base, *decisions, want]):
            current = solver.get_model()
            decisions.append(want)
        else:
            decisions.append(-want)
    fixed = {c.target for c in outcome.choices if c.kind == "option" and c.quantity is not None}
    fixed |= {c.target for c in outcome.choices if c.kind == "component"}
    wanted = [(model.qty[o], default_quantity(model, o)) for o in model.option_ids
              if model.qty[o].bits and current[sel[o] - 1] > 0 and o not in fixed]
    wanted += [(model.comp[c.id], c.default) for c in model.product.components if c.id not in fixed]
    for var, target in wanted:
        true = {x for x in current if x > 0} | {model.cnf.TRUE}
        if var.value(true) == target:
            decisions.append(model.cnf.int_eq(var, target) if target else -var.active)
            continue
        q = _nearest_quantity(model, [*base, *decisions], var, target)
        decisions.append(model.cnf.int_eq(var, q) if q else -var.active)
        if solver.solve(assumptions=[*base, *decisions]):
            current = solver.get_model()
    if not solver.solve(assumptions=[*base, *decisions]):  # pragma: no cover - every step kept consistency
        return None
    return config_from(model, {x for x in solver.get_model() if x > 0} | {model.cnf.TRUE})


def _scale(prices: Mapping[str, Decimal]) -> int:
    places = 0
    for p in prices.values():
        exponent = Decimal(p).as_tuple().exponent
        if isinstance(exponent, int) and exponent < 0:
            places = max(places, -exponent)
    return 10 ** places


def cheapest_completion(model: CompiledProduct, assumptions: Assumptions, outcome: SelectionOutcome,
                        prices: Mapping[str, Decimal]) -> Configuration | None:
    """Minimum Σ price × quantity (lock held); None when the assumptions are inconsistent."""
    base = assumptions.literals()
    wcnf = WCNF()
    wcnf.extend(model.cnf.hard)
    wcnf.extend([clause for _, clause in model.bodies])
    wcnf.extend([[lit] for lit in base])
    scale = _scale(prices)
    # ties (which never outweigh one minor unit of price): defaults first, then smaller quantities
    tie = 2 + len(model.option_ids) + sum(v.hi - v.lo for v in model.qty.values())
    preferred = preferred_options(model, outcome)
    for o in model.option_ids:
        var = model.qty[o]
        unit = int(Decimal(prices.get(o, 0)) * scale)
        if unit > 0 and var.lo:
            wcnf.append([-var.active], weight=unit * var.lo * tie)
        for j, b in enumerate(var.bits):
            wcnf.append([-b], weight=unit * (1 << j) * tie + (1 << j))
        wcnf.append([var.active] if o in preferred else [-var.active], weight=1)
    with RC2(wcnf, solver="g4") as rc2:
        found = rc2.compute()
    if found is None:
        return None
    return config_from(model, {x for x in found if x > 0} | {model.cnf.TRUE})


def complete_choices(model: CompiledProduct, outcome: SelectionOutcome, context: Mapping[str, str],
                     objective: str, prices: Mapping[str, Decimal] | None) -> Completion | None:
    """Complete, then re-apply selection rules that the completed configuration fires (lock held)."""
    from cpq.configurator.reasons import ReasonFinder

    solver = model.main_solver()
    tried: set[tuple[str, str]] = set()
    config = None
    for _ in range(4):
        assumptions = assumptions_for(model, outcome.choices, context)
        if objective == "cheapest":
            config = cheapest_completion(model, assumptions, outcome, prices or {})
        else:
            config = greedy_completion(model, assumptions, outcome)
        if config is None:
            return None
        changed = False
        fired = matching_rules(model, "selection", config, context)
        for rule in fired:
            for feature_id, option_id in rule.set_default.items():
                if feature_id not in outcome.defaults:
                    outcome.defaults[feature_id] = (option_id, rule.id)
                    changed = changed or option_id not in config.options
            for option_id in rule.add:
                if option_id in config.options or (rule.id, option_id) in tried:
                    continue
                tried.add((rule.id, option_id))
                if solver.solve(assumptions=[*assumptions.literals(), model.sel[option_id]]):
                    outcome.choices.append(Choice("option", option_id))
                    outcome.added.append((rule.id, option_id))
                    changed = True
                else:
                    reason = ReasonFinder(model, assumptions).why(model.sel[option_id], option_id)
                    outcome.conflicts.append(RuleConflict(rule, option_id, reason))
        if not changed:
            break
    result = Completion(config, objective, added=list(outcome.added), conflicts=list(outcome.conflicts))
    if objective == "cheapest":
        prices = prices or {}
        result.cost = sum((Decimal(prices[o]) * q for o, q in config.options.items() if o in prices), Decimal(0))
        result.unpriced = sorted(o for o in config.options if o not in prices)
    return result
