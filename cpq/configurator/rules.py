"""Selection rules (auto-add, set default) and alerts, matched through the rules-engine port.

Conditions are matched by `cpq.rules_engine.RuleProgram` (durable_rules), compiled once per
product and ruleset version. A partial selection is matched as it stands: an option not chosen
yet counts as not chosen. An `add` is applied only when the solver agrees that the option can
still be chosen with everything chosen so far; otherwise it is reported as a rule conflict with
the reason the option is blocked, and not applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sympy

from cpq.catalog import ProductRule
from cpq.configurator.model import CompiledProduct, quantity_bounds
from cpq.configurator.reasons import Reason, ReasonFinder
from cpq.configurator.selection import Choice, assumptions_for
from cpq.configurator.translate import CONTEXT_NAMES
from cpq.rules_engine import RuleProgram, RuleProgramError
from cpq.ruleset.scopes import bind_text_fields

MAX_ROUNDS = 10


@dataclass(frozen=True)
class Configuration:
    """A full configuration: chosen options with their quantity, and component quantities."""

    options: Mapping[str, int]
    components: Mapping[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"options": dict(self.options), "components": dict(self.components)}


def default_quantity(model: CompiledProduct, option_id: str) -> int:
    lo, hi = quantity_bounds(model.options[option_id])
    return min(max(model.options[option_id].quantity.default, lo), hi)


def configuration_of(model: CompiledProduct, choices: list[Choice]) -> Configuration:
    """The choices read as a configuration: unlisted options are not chosen, unset quantities default."""
    options = {c.target: c.quantity if c.quantity is not None else default_quantity(model, c.target)
               for c in choices if c.kind == "option"}
    components = {c.id: c.default for c in model.product.components}
    components.update({c.target: c.quantity for c in choices if c.kind == "component"})
    return Configuration(options, components)


@dataclass(frozen=True)
class RuleConflict:
    """A selection rule that wanted to add an option the rules (or the buyer) rule out."""

    rule: ProductRule
    option: str
    reason: Reason | None

    def as_dict(self) -> dict:
        return {"rule": self.rule.id, "option": self.option,
                "message": f"Rule {self.rule.id} would add {self.option}, which cannot be chosen here.",
                "source": f"{self.rule.source.path}:{self.rule.source.line}",
                "reason": self.reason.as_dict() if self.reason else None}


@dataclass
class SelectionOutcome:
    """Choices after the selection rules, what they added, what they could not, and defaults set."""

    choices: list[Choice]
    added: list[tuple[str, str]] = field(default_factory=list)  # (rule id, option)
    conflicts: list[RuleConflict] = field(default_factory=list)
    defaults: dict[str, tuple[str, str]] = field(default_factory=dict)  # feature → (option, rule id)


def _condition(rule: ProductRule):
    when = rule.when.symbolic if rule.when is not None else sympy.true
    return when


def _program(model: CompiledProduct, kind: str):
    if kind not in model.programs:
        rules = [r for r in model.product.rules if r.kind == kind]
        try:
            model.programs[kind] = RuleProgram([(r.id, _condition(r)) for r in rules],
                                               label=f"{model.product.id}-{kind}") if rules else None
        except RuleProgramError:
            model.programs[kind] = "sympy"  # a construct durable cannot take: evaluate exactly instead
    return model.programs[kind]


def _value(name: str, config: Configuration, context: Mapping[str, str]):
    if name.startswith("sel["):
        return name[4:-1] in config.options
    if name.startswith("qty["):
        return config.options.get(name[4:-1], 0)
    if name.startswith("comp["):
        return config.components.get(name[5:-1], 0) > 0
    if name.startswith("compqty["):
        return config.components.get(name[8:-1], 0)
    if name in CONTEXT_NAMES:
        return context.get(name, "")
    raise RuleProgramError(f"no value for '{name}'")


def matching_rules(model: CompiledProduct, kind: str, config: Configuration, context: Mapping[str, str]) -> list[ProductRule]:
    """The product rules of `kind` whose condition holds for the configuration, in file order."""
    program = _program(model, kind)
    rules = [r for r in model.product.rules if r.kind == kind]
    if program is None:
        return []
    if program == "sympy":
        return [r for r in rules if _holds(_condition(r), config, context)]
    values = {s: _value(s.name, config, context) for s in program.symbols}
    fired = set(program.matching(values))
    return [r for r in rules if r.id in fired]


def _holds(expr, config: Configuration, context: Mapping[str, str]) -> bool:
    values = {}
    for s in expr.free_symbols:
        if s.name in CONTEXT_NAMES:
            continue
        v = _value(s.name, config, context)
        values[s] = sympy.true if v is True else sympy.false if v is False else sympy.Integer(v)
    texts = {name: context.get(name, "") for name in CONTEXT_NAMES}
    return bind_text_fields(expr.xreplace(values), texts) is sympy.true


def alerts(model: CompiledProduct, config: Configuration, context: Mapping[str, str]) -> list[dict]:
    """Soft rules that hold for this configuration."""
    return [{"id": r.id, "message": r.message, "source": f"{r.source.path}:{r.source.line}"}
            for r in matching_rules(model, "alert", config, context)]


def apply_selection_rules(model: CompiledProduct, choices: list[Choice], context: Mapping[str, str]) -> SelectionOutcome:
    """Apply auto-add rules until nothing changes; collect set_default overrides (lock held)."""
    outcome = SelectionOutcome(list(choices))
    if not model.selection_rules:
        return outcome
    solver = model.main_solver()
    tried: set[tuple[str, str]] = set()
    for _ in range(MAX_ROUNDS):
        config = configuration_of(model, outcome.choices)
        fired = matching_rules(model, "selection", config, context)
        outcome.defaults = {}
        changed = False
        for rule in fired:
            for feature_id, option_id in rule.set_default.items():
                outcome.defaults.setdefault(feature_id, (option_id, rule.id))
            for option_id in rule.add:
                if option_id in config.options or (rule.id, option_id) in tried:
                    continue
                tried.add((rule.id, option_id))
                assumptions = assumptions_for(model, outcome.choices, context)
                if solver.solve(assumptions=[*assumptions.literals(), model.sel[option_id]]):
                    outcome.choices.append(Choice("option", option_id))
                    outcome.added.append((rule.id, option_id))
                    changed = True
                    config = configuration_of(model, outcome.choices)
                else:
                    reason = ReasonFinder(model, assumptions).why(model.sel[option_id], option_id)
                    outcome.conflicts.append(RuleConflict(rule, option_id, reason))
        if not changed:
            break
    return outcome
