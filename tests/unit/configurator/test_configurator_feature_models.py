"""Feature models (clauses over options alone): valid domains stay exact from step to step.

Here cached solutions that contradict the buyer's choices still prove values (where they agree
with the propagated values on every clause still open), and proofs of impossibility are reused
while their choices stand. One compiled model answers a whole sequence of states — choices
added, undone and changed — so whatever one step leaves behind is used by the next; every state
is checked against enumeration of the CNF's models.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cpq.configurator.domains import compute_domains
from cpq.configurator.model import CompiledProduct
from cpq.configurator.selection import Choice, assumptions_for
from cpq.importers import write_rule_file
from cpq.importers.dimacs import read_dimacs
from cpq.ruleset.loader import load_ruleset

# more examples than the other property tests: a state that shows a wrong witness is rare (a dropped
# boundary was caught by 40 examples for 2 of 4 seeds)
SETTINGS = settings(max_examples=int(os.environ.get("CPQ_PROPERTY_EXAMPLES", "120")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def literal(variables: int):
    return st.integers(1, variables).flatmap(lambda v: st.sampled_from([v, -v]))


@st.composite
def feature_models(draw):
    """(variable count, clauses): short clauses as in real feature models, many of three or more literals."""
    n = draw(st.integers(4, 9))
    short = draw(st.lists(st.lists(literal(n), min_size=1, max_size=2, unique_by=abs), max_size=n))
    long = draw(st.lists(st.lists(literal(n), min_size=3, max_size=4, unique_by=abs), min_size=1, max_size=2 * n))
    return n, short + long


@st.composite
def edits(draw, variables: int):
    """Steps of a buyer: choose a value, undo an earlier choice, or change one to the other value."""
    steps = []
    for _ in range(draw(st.integers(2, 10))):
        kind = draw(st.sampled_from(["choose", "choose", "choose", "undo", "change"]))
        steps.append((kind, draw(st.integers(1, variables)), draw(st.booleans())))
    return steps


def compiled(n: int, clauses: list[list[int]]):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fm.dimacs"
        path.write_text(f"p cnf {n} {len(clauses)}\n" + "".join(" ".join(map(str, c)) + " 0\n" for c in clauses))
        imported = read_dimacs(path)
        write_rule_file(imported, Path(folder) / "rules")
        ruleset = load_ruleset([Path(folder) / "rules"])
    model = CompiledProduct(ruleset, ruleset.products[imported.product_id])
    options = [imported.option_of[(str(v), "1")] for v in range(1, n + 1)]
    return model, options


def enumerated_domains(n: int, clauses: list[list[int]], made: dict[int, bool]):
    """Per variable (can be true, can be false) over the CNF's models that extend the choices; None if none does."""
    extensions = [bits for bits in itertools.product([False, True], repeat=n)
                  if all(bits[v - 1] == value for v, value in made.items())
                  and all(any((lit > 0) == bits[abs(lit) - 1] for lit in c) for c in clauses)]
    if not extensions:
        return None
    return {v: (any(b[v - 1] for b in extensions), any(not b[v - 1] for b in extensions)) for v in range(1, n + 1)}


def domains_of(model: CompiledProduct, options: list[str], made: dict[int, bool]):
    choices = [Choice("option" if value else "excluded", options[v - 1]) for v, value in made.items()]
    with model.lock:
        return compute_domains(model, assumptions_for(model, choices, {}), reasons=False, quantities=False)


@SETTINGS
@given(case=feature_models(), data=st.data())
def test_feature_model_domains_stay_exact_while_choices_are_added_undone_and_changed(case, data):
    n, clauses = case
    model, options = compiled(n, clauses)
    model.warm_up(count=data.draw(st.integers(2, 16)))  # solutions made before any choice: most contradict later ones
    made: dict[int, bool] = {}
    for kind, var, value in data.draw(edits(n)):
        if kind == "choose":
            made[var] = value
        elif made and kind == "undo":
            made.pop(sorted(made)[var % len(made)])
        elif made:
            changed = sorted(made)[var % len(made)]
            made[changed] = not made[changed]

        expected = enumerated_domains(n, clauses, made)
        result = domains_of(model, options, made)

        if expected is None:
            assert not result.consistent
            continue
        assert result.consistent
        event(f"{result.sat_calls} SAT calls")
        for v in range(1, n + 1):
            got = result.options[options[v - 1]]
            assert (got.selectable, got.removable) == expected[v], (v, made)


def remember_configuration(model: CompiledProduct, options: list[str], chosen: set[int]) -> None:
    """Put a valid configuration (the variables chosen) into the model's solution cache."""
    assignment = [model.cnf.TRUE] + [0] * len(options)
    for v, option in enumerate(options, 1):
        var = model.sel[option]
        assignment[var - 1] = var if v in chosen else -var
    model.remember(model.solution_from(assignment))


def test_a_solution_that_breaks_a_choice_elsewhere_still_proves_the_values_of_an_unrelated_part():
    # two parts, 1 → 2 ∨ 3 and 4 → 5 ∨ 6; no cached configuration has both 4 and 5
    model, options = compiled(6, [[-1, 2, 3], [-4, 5, 6]])
    for chosen in ({1, 2}, {3}, {6}):
        remember_configuration(model, options, chosen)

    result = domains_of(model, options, {4: True, 5: True})

    assert result.consistent
    for v in (1, 2, 3, 6):
        assert (result.options[options[v - 1]].selectable, result.options[options[v - 1]].removable) == (True, True)
    assert result.sat_calls == 0


def test_a_contradiction_inside_one_part_is_found_though_the_other_part_has_witnesses():
    # part one: 1 → 2 ∨ 3; part two: choosing 4 leaves no value for 5 and 6, which propagation does not see
    model, options = compiled(6, [[-1, 2, 3], [-4, 5, 6], [-4, 5, -6], [-4, -5, 6], [-4, -5, -6]])
    for chosen in (set(), {1, 2}):
        remember_configuration(model, options, chosen)

    result = domains_of(model, options, {4: True})

    assert not result.consistent
