"""The configurator's public operations: take a Ruleset and plain values, return plain values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from cpq.catalog import Product
from cpq.configurator.complete import OBJECTIVES, Completion, complete_choices
from cpq.configurator.domains import DomainResult, OptionDomain, compute_domains
from cpq.configurator.errors import InvalidSelection, SelectionInconsistent, UnknownProductInput
from cpq.configurator.explain import Explanation, explain_assumptions
from cpq.configurator.model import CompiledProduct, compiled_product
from cpq.configurator.rules import (
    RuleConflict,
    SelectionOutcome,
    alerts,
    apply_selection_rules,
    configuration_of,
)
from cpq.configurator.selection import Selection, assumptions_for, choices_of
from cpq.configurator.translate import CONTEXT_NAMES
from cpq.configurator.validate import ValidationResult, validate_configuration
from cpq.ruleset.expressions import did_you_mean
from cpq.ruleset.model import Ruleset

Context = Mapping[str, str]


def product_model(ruleset: Ruleset, product: str | Product) -> CompiledProduct:
    """The compiled model of a product (422 unknown_product when the id is not in the ruleset)."""
    product_id = product.id if isinstance(product, Product) else product
    if product_id not in ruleset.products:
        hint = did_you_mean(str(product_id), ruleset.products)
        raise UnknownProductInput(f"unknown product '{product_id}'" + (f" (did you mean {hint}?)" if hint else ""),
                                  errors=[{"code": "unknown_product", "field": "product", "message": f"unknown product '{product_id}'"}])
    return compiled_product(ruleset, product_id)


def context_fields(context: Context | None) -> dict[str, str]:
    """Check a flat context mapping ({'context.country': 'DE', 'account.segment': 'smb'})."""
    out: dict[str, str] = {}
    problems = []
    for key, value in (context or {}).items():
        if key not in CONTEXT_NAMES:
            hint = did_you_mean(str(key), CONTEXT_NAMES)
            problems.append({"code": "invalid_selection", "field": f"context.{key}",
                             "message": f"unknown context field '{key}'" + (f" (did you mean {hint}?)" if hint else "")})
        elif not isinstance(value, str):
            problems.append({"code": "invalid_selection", "field": key, "message": f"context field '{key}' must be text"})
        else:
            out[key] = value
    if problems:
        raise InvalidSelection("; ".join(p["message"] for p in problems), errors=problems)
    return out


def validate(ruleset: Ruleset, product: str | Product, selection: Selection, context: Context | None = None) -> ValidationResult:
    """Judge the selection as a full configuration: every violated rule, and the alerts that hold."""
    model = product_model(ruleset, product)
    ctx = context_fields(context)
    with model.lock:
        choices = choices_of(model, selection)
        return validate_configuration(model, configuration_of(model, choices), ctx)


def valid_domains(ruleset: Ruleset, product: str | Product, selection: Selection, context: Context | None = None,
                  *, reasons: bool = True) -> DomainResult:
    """For every option: selectable or not, why not, and the feasible quantity range."""
    model = product_model(ruleset, product)
    ctx = context_fields(context)
    with model.lock:
        choices = choices_of(model, selection)
        return compute_domains(model, assumptions_for(model, choices, ctx), reasons=reasons)


def explain(ruleset: Ruleset, product: str | Product, selection: Selection, context: Context | None = None,
            *, max_repairs: int = 3) -> Explanation:
    """For an inconsistent selection: a minimal conflict set of choices, its rules, and repairs."""
    model = product_model(ruleset, product)
    ctx = context_fields(context)
    with model.lock:
        choices = choices_of(model, selection)
        return explain_assumptions(model, assumptions_for(model, choices, ctx), max_repairs)


def complete(ruleset: Ruleset, product: str | Product, selection: Selection, context: Context | None = None,
             *, objective: str = "defaults", prices: Mapping[str, Decimal] | None = None) -> Completion:
    """A full valid configuration extending the selection: defaults first, or cheapest by `prices`."""
    if objective not in OBJECTIVES:
        raise InvalidSelection(f"unknown objective '{objective}'; use one of {', '.join(OBJECTIVES)}",
                               errors=[{"code": "invalid_selection", "field": "objective", "message": "unknown objective"}])
    for sku, price in (prices or {}).items():
        if not isinstance(price, int | Decimal) or isinstance(price, bool) or price < 0:
            raise InvalidSelection(f"price of {sku} must be a non-negative amount",
                                   errors=[{"code": "invalid_selection", "field": f"prices.{sku}", "message": "not a price"}])
    model = product_model(ruleset, product)
    ctx = context_fields(context)
    with model.lock:
        choices = choices_of(model, selection)
        outcome = apply_selection_rules(model, choices, ctx)
        result = complete_choices(model, outcome, ctx, objective, prices)
        if result is None:
            explanation = explain_assumptions(model, assumptions_for(model, choices, ctx), 3)
            raise SelectionInconsistent("the selection contradicts the product rules; see 'conflict' and 'repairs'",
                                        **explanation.as_dict())
        return result


@dataclass
class ConfigureResult:
    """The answer to one configuration step."""

    product: str
    consistent: bool
    outcome: SelectionOutcome
    domains: DomainResult
    alerts: list[dict] = field(default_factory=list)
    explanation: Explanation | None = None

    @property
    def conflicts(self) -> list[RuleConflict]:
        return self.outcome.conflicts

    def option(self, option_id: str) -> OptionDomain:
        return self.domains.options[option_id]


def configure(ruleset: Ruleset, product: str | Product, selection: Selection, context: Context | None = None,
              *, reasons: bool = True) -> ConfigureResult:
    """One interactive step: apply selection rules, then domains with reasons, and the alerts."""
    model = product_model(ruleset, product)
    ctx = context_fields(context)
    with model.lock:
        choices = choices_of(model, selection)
        assumptions = assumptions_for(model, choices, ctx)
        domains = compute_domains(model, assumptions, reasons=False, quantities=False)
        if not domains.consistent:
            explanation = explain_assumptions(model, assumptions, 3)
            outcome = SelectionOutcome(choices)
            return ConfigureResult(model.product.id, False, outcome, domains,
                                   alerts(model, configuration_of(model, choices), ctx), explanation)
        outcome = apply_selection_rules(model, choices, ctx)
        domains = compute_domains(model, assumptions_for(model, outcome.choices, ctx), reasons=reasons)
        return ConfigureResult(model.product.id, True, outcome, domains,
                               alerts(model, configuration_of(model, outcome.choices), ctx))
