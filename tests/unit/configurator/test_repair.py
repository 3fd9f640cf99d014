"""Local repair: whatever it returns is a model of every clause, under the same assumptions."""

from __future__ import annotations

from itertools import product

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cpq.configurator.repair import Occurrences, repair, support

TRUE = 1  # the CNF's constant-true variable, as in cpq.configurator.cnf


def _models(clauses, nvars):
    for values in product((False, True), repeat=nvars - 1):
        assignment = [TRUE] + [v if values[v - 2] else -v for v in range(2, nvars + 1)]
        true = set(assignment)
        if all(not true.isdisjoint(c) for c in clauses):
            yield assignment


@st.composite
def cnf_with_model(draw):
    nvars = draw(st.integers(3, 9))
    literal = st.integers(2, nvars).flatmap(lambda v: st.sampled_from((v, -v)))
    clauses = draw(st.lists(st.lists(literal, min_size=1, max_size=4, unique_by=abs), min_size=1, max_size=14))
    models = list(_models(clauses, nvars))
    if not models:
        return clauses, nvars, None, None, None
    start = draw(st.sampled_from(models))
    target = draw(literal)
    fixed = set(draw(st.lists(st.integers(2, nvars), max_size=3)))
    return clauses, nvars, start, target, fixed


@settings(max_examples=300, deadline=None)
@given(case=cnf_with_model())
def test_a_repair_is_a_model_with_the_target_that_keeps_every_fixed_variable(case):
    clauses, nvars, start, target, fixed = case
    assume(start is not None)
    occ = Occurrences(clauses, TRUE)
    true = set(start)
    flips, _ = repair(occ, true, target, fixed)
    assert true == set(start)  # the caller's model is left as it was
    neighbour = set(start) - {-target} | {target}
    if abs(target) not in fixed and all(not neighbour.isdisjoint(c) for c in clauses):
        assert flips is not None  # one flip away: always found
    if flips is None:
        return
    assignment = list(start)
    for var, lit in flips.items():
        assignment[var - 1] = lit
    result = set(assignment)
    assert target in result
    assert all(not result.isdisjoint(c) for c in clauses)
    assert all(assignment[v - 1] == start[v - 1] for v in fixed)


def test_a_repair_tries_the_next_way_when_the_first_leads_nowhere():
    # 2 needs 3; 3 needs one of 4 or 5; 4 (its opposite in fewer clauses: tried first) needs 6,
    # which 7 forbids
    clauses = [[-2, 3], [-3, 4, 5], [-4, 6], [-6, -7], [7], [-5, 7], [-5, 7, 2]]
    occ = Occurrences(clauses, TRUE)
    start = [TRUE, -2, -3, -4, -5, -6, 7]
    flips, _ = repair(occ, set(start), 2, fixed={7})
    assert flips == {2: 2, 3: 3, 5: 5}


def test_a_fixed_variable_is_never_flipped():
    clauses = [[-2, 3]]
    occ = Occurrences(clauses, TRUE)
    assert repair(occ, {TRUE, -2, -3}, 2, fixed={3})[0] is None


def test_support_follows_two_literal_clauses_but_not_past_a_true_literal():
    clauses = [[-2, 3], [-3, 4], [-4, 5], [-6, 7]]
    occ = Occurrences(clauses, TRUE)
    assert support(occ, [2], {TRUE, -2, -3, 4, 5}) == [3]
    assert sorted(support(occ, [2, 6], {TRUE})) == [3, 4, 5, 7]
