"""Judge a full configuration: every rule it breaks (not just the first), and the alerts that hold.

Rules written as expressions are decided by one unit propagation of the explain solver: with
every option, quantity bit and context atom assumed, every gate literal in the rule's clauses is
fixed (gates are full equivalences), so a rule holds when each of its clauses has a true literal —
the very clauses the solver reasons with, so the two can never disagree. Structured rules (feature cardinality,
requires, excludes, tables, filters) are counted directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cpq.configurator.model import CompiledProduct, RuleRef, _Check
from cpq.configurator.rules import Configuration, alerts


@dataclass(frozen=True)
class Violation:
    """One broken rule and the options it concerns in this configuration."""

    rule: RuleRef
    options: tuple[str, ...]

    def as_dict(self) -> dict:
        return {**self.rule.as_dict(), "options": list(self.options)}


@dataclass
class ValidationResult:
    valid: bool
    configuration: Configuration
    violations: list[Violation] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)


def assignment_literals(model: CompiledProduct, config: Configuration) -> list[int]:
    """Every option, quantity bit and component bit of a full configuration, as literals."""
    lits = []
    for o in model.option_ids:
        var = model.qty[o]
        q = config.options.get(o, 0)
        lits.append(var.active if q else -var.active)
        offset = q - var.lo if q else 0
        lits.extend(b if (offset >> j) & 1 else -b for j, b in enumerate(var.bits))
    for comp_id, var in model.comp.items():
        q = config.components.get(comp_id, 0)
        if var.active != model.cnf.TRUE:
            lits.append(var.active if q else -var.active)
        offset = q - var.lo if q else 0
        lits.extend(b if (offset >> j) & 1 else -b for j, b in enumerate(var.bits))
    return lits


def violations(model: CompiledProduct, config: Configuration, context: Mapping[str, str]) -> list[Violation]:
    """Every rule the configuration breaks, in rule order (call with model.lock held)."""
    solver = model.explain_solver()
    base = [*model.context_literals(context), *assignment_literals(model, config)]
    ok, implied = solver.propagate(assumptions=base)
    true = set(implied) if ok else set()

    def holds(lit: int) -> bool:
        if lit in true:
            return True
        if -lit in true:
            return False
        return not solver.solve(assumptions=[*base, -lit])  # pragma: no cover - gates always propagate

    chosen = set(config.options)
    out = []
    for rule, check in zip(model.rules, model.checks, strict=True):
        if not _satisfied(check, chosen, holds):
            involved = tuple(o for o in rule.options if o in chosen) or rule.options
            out.append(Violation(rule, involved))
    return out


def _satisfied(check: _Check, chosen: set[str], holds) -> bool:
    if check.kind == "formula":
        return all(any(holds(lit) for lit in clause) for clause in check.clauses)
    if check.when is not None and not holds(check.when):
        return True
    if check.kind == "cardinality":
        n = sum(1 for o in check.options if o in chosen)
        return (check.lo is None or n >= check.lo) and (check.hi is None or n <= check.hi)
    if check.kind == "requires":
        return not all(o in chosen for o in check.options) or any(o in chosen for o in check.then_any)
    if check.kind == "filter":
        return not any(o in chosen for o in check.options)
    if check.kind == "table":
        matched = any(all(o in chosen for o in row) for row in check.rows)
        if not check.allowed:
            return not matched
        return matched or not all(any(o in chosen for o in group) for group in check.groups)
    raise AssertionError(check.kind)  # pragma: no cover


def validate_configuration(model: CompiledProduct, config: Configuration, context: Mapping[str, str]) -> ValidationResult:
    found = violations(model, config, context)
    return ValidationResult(not found, config, found, alerts(model, config, context))
