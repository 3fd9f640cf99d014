"""On small random products, every answer of the configurator agrees with brute-force enumeration."""

from __future__ import annotations

import os
from decimal import Decimal
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cpq.configurator import Selection, complete, domains, explain, valid_domains, validate
from cpq.configurator.domains import compute_domains
from cpq.configurator.errors import SelectionInconsistent
from cpq.configurator.model import ACTIVATION_POOL, CompiledProduct
from cpq.configurator.selection import assumptions_for, choices_of
from tests.unit.configurator.brute import Oracle
from tests.unit.configurator.random_models import load_text, partial_selections, small_products

# CPQ_PROPERTY_EXAMPLES=1000 for a long run; the default keeps the suite fast
SETTINGS = settings(max_examples=int(os.environ.get("CPQ_PROPERTY_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _selection(chosen, excluded, components) -> Selection:
    return Selection(chosen, tuple(excluded), components)


@SETTINGS
@given(case=small_products(), data=st.data())
def test_valid_domains_agree_with_enumeration(case, data):
    text, context = case
    ruleset = load_text(text)
    oracle = Oracle(ruleset, "P", context)
    chosen, excluded, components = data.draw(partial_selections(ruleset))
    expected = oracle.domains_of(chosen, excluded, components)

    result = valid_domains(ruleset, "P", _selection(chosen, excluded, components), context)

    if not oracle.extensions(chosen, excluded, components):
        event("inconsistent selection")
        assert not result.consistent
        return
    assert result.consistent
    event(f"{sum(1 for s, _, _ in expected.values() if not s)} blocked options")
    for option, (selectable, removable, quantity) in expected.items():
        got = result.options[option]
        assert (got.selectable, got.removable) == (selectable, removable), option
        if got.quantity is not None:
            assert got.quantity == quantity, option
        if not selectable and option not in chosen and option not in excluded:
            assert got.reasons, option
    assert result.components == oracle.component_ranges(chosen, excluded, components)


def _chunked_domains_agree_with_enumeration(case, data, prepare=lambda model: None):
    """Domains computed with the unproven values asked together after the first call, against brute force."""
    text, context = case
    ruleset = load_text(text)
    oracle = Oracle(ruleset, "P", context)
    chosen, excluded, components = data.draw(partial_selections(ruleset))
    if not oracle.extensions(chosen, excluded, components):
        return
    expected = oracle.domains_of(chosen, excluded, components)
    model = CompiledProduct(ruleset, ruleset.products["P"])  # no cached solutions: every value needs a call
    prepare(model)
    choices = choices_of(model, _selection(chosen, excluded, components))

    with mock.patch.object(domains, "CHUNK_BELOW", 10**9), model.lock:  # one clause for all after the first call
        result = compute_domains(model, assumptions_for(model, choices, context), reasons=False, quantities=False)

    assert result.consistent
    for option, (selectable, removable, _) in expected.items():
        assert (result.options[option].selectable, result.options[option].removable) == (selectable, removable), option


@SETTINGS
@given(case=small_products(), data=st.data())
def test_valid_domains_agree_with_enumeration_when_the_unproven_values_are_asked_together(case, data):
    _chunked_domains_agree_with_enumeration(case, data)


def _use_up_the_activation_literals(model):
    first_solver = model.main_solver()
    for _ in range(ACTIVATION_POOL + 1):  # the last one starts the block over, in a new solver
        model.main_solver().add_clause([-model.activation_literal()])
    assert model.main_solver() is not first_solver


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=small_products(), data=st.data())
def test_valid_domains_stay_right_once_the_activation_literals_are_used_up_and_the_solver_rebuilt(case, data):
    _chunked_domains_agree_with_enumeration(case, data, prepare=_use_up_the_activation_literals)


@SETTINGS
@given(case=small_products(), data=st.data())
def test_validate_reports_exactly_the_rules_a_configuration_breaks(case, data):
    text, context = case
    ruleset = load_text(text)
    oracle = Oracle(ruleset, "P", context)
    config = data.draw(st.sampled_from(oracle.all))
    options = {o: q for o, q in zip(oracle.options, config.qty, strict=True) if q}
    components = {c.id: q for c, q in zip(oracle.components, config.comp, strict=True)}

    result = validate(ruleset, "P", Selection(options, (), components), context)

    assert {v.rule.id for v in result.violations} == oracle.violated(config)
    assert result.valid == (not oracle.violated(config))


@SETTINGS
@given(case=small_products(), data=st.data(), objective=st.sampled_from(["defaults", "cheapest"]))
def test_complete_returns_a_valid_extension_and_the_cheapest_costs_least(case, data, objective):
    text, context = case
    ruleset = load_text(text)
    oracle = Oracle(ruleset, "P", context)
    chosen, excluded, components = data.draw(partial_selections(ruleset))
    prices = {o: Decimal(data.draw(st.integers(0, 20))) / 4 for o in oracle.options}

    if not oracle.extensions(chosen, excluded, components):
        with pytest.raises(SelectionInconsistent):
            complete(ruleset, "P", _selection(chosen, excluded, components), context, objective=objective, prices=prices)
        return
    result = complete(ruleset, "P", _selection(chosen, excluded, components), context, objective=objective, prices=prices)

    config = oracle.config_of(result.configuration.options, result.configuration.components)
    assert not oracle.violated(config)
    assert oracle.consistent_with(config, chosen, excluded, components)
    if objective == "cheapest":
        assert result.cost == oracle.cheapest_cost(chosen, prices, excluded, components)


@SETTINGS
@given(case=small_products(), data=st.data())
def test_explain_gives_a_minimal_conflict_set_and_minimal_repairs(case, data):
    text, context = case
    ruleset = load_text(text)
    oracle = Oracle(ruleset, "P", context)
    chosen, excluded, components = data.draw(partial_selections(ruleset))

    result = explain(ruleset, "P", _selection(chosen, excluded, components), context, max_repairs=3)

    consistent = bool(oracle.extensions(chosen, excluded, components))
    event(f"conflict of {len(result.conflict)}, {len(result.repairs)} repairs")
    assert result.consistent == consistent
    if consistent:
        return

    def extends(choices) -> bool:
        ch = {c.target: c.quantity for c in choices if c.kind == "option"}
        ex = [c.target for c in choices if c.kind == "excluded"]
        co = {c.target: c.quantity for c in choices if c.kind == "component"}
        return bool(oracle.extensions(ch, ex, co))

    conflict = list(result.conflict)
    if not oracle.valid:
        assert conflict == []
        return
    assert conflict and not extends(conflict)
    for member in conflict:
        assert extends([c for c in conflict if c is not member])
    all_choices = _all_choices(chosen, excluded, components)
    for repair in result.repairs:
        removed = {(c.kind, c.target) for c in repair.remove}
        kept = [c for c in all_choices if (c.kind, c.target) not in removed]
        back_in = [c for c in all_choices if (c.kind, c.target) in removed]
        assert len(back_in) == len(repair.remove)
        assert extends(kept)
        for back in back_in:
            assert not extends([*kept, back])


def _all_choices(chosen, excluded, components):
    from cpq.configurator.selection import Choice

    out = [Choice("option", o, q) for o, q in chosen.items()]
    out += [Choice("excluded", o) for o in excluded]
    out += [Choice("component", c, q) for c, q in components.items()]
    return out
