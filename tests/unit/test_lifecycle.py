"""The quote lifecycle: every legal move, and illegal ones refused with the allowed actions listed."""

from __future__ import annotations

from datetime import date

import pytest

from cpq.quotes.lifecycle import (
    STATES,
    TRANSITIONS,
    IllegalTransition,
    allowed_actions,
    effective_state,
    next_state,
)

LEGAL = [(state, action, target) for action, moves in TRANSITIONS.items() for state, target in moves.items()]


@pytest.mark.parametrize(("state", "action", "target"), LEGAL)
def test_each_legal_transition_reaches_its_state(state, action, target):
    assert next_state(state, action) == target


ILLEGAL = [(s, a) for s in STATES for a in TRANSITIONS if s not in TRANSITIONS[a]]


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_each_illegal_transition_is_refused_listing_the_allowed_ones(state, action):
    with pytest.raises(IllegalTransition) as info:
        next_state(state, action)
    assert info.value.status == 409
    assert info.value.extra["allowed"] == allowed_actions(state)


def test_the_happy_path_from_draft_to_ordered():
    state = "draft"
    for action in ("submit", "approve", "send", "accept", "order", "order_placed"):
        state = next_state(state, action)
    assert state == "ordered"


def test_ordering_passes_through_ordering_until_order_management_confirms():
    assert next_state("accepted", "order") == "ordering"
    assert next_state("ordering", "order_placed") == "ordered"


def test_a_refused_order_can_be_ordered_again():
    failed = next_state("ordering", "order_failed")
    assert failed == "order_failed"
    assert allowed_actions(failed) == ["order"]
    assert next_state(failed, "order") == "ordering"


def test_an_ordered_quote_may_order_what_is_left_but_never_be_accepted_again():
    assert allowed_actions("ordered") == ["order"]
    with pytest.raises(IllegalTransition):
        next_state("ordered", "accept")


def test_the_worker_outcomes_are_not_offered_to_people():
    assert allowed_actions("ordering") == ["order"]
    assert "order_placed" not in allowed_actions("ordering")
    assert "order_failed" not in allowed_actions("ordering")


@pytest.mark.parametrize("state", ["ordering", "ordered", "order_failed"])
def test_order_states_never_expire_and_cannot_be_revised(state):
    assert effective_state(state, date(2026, 1, 31), today=date(2027, 1, 1)) == state
    with pytest.raises(IllegalTransition):
        next_state(state, "revise")


def test_an_accepted_quote_cannot_be_accepted_again():
    with pytest.raises(IllegalTransition, match="cannot accept a quote that is accepted; allowed: order"):
        next_state("accepted", "accept")


def test_a_sent_quote_past_its_validity_is_expired_and_cannot_be_accepted():
    state = effective_state("sent", date(2026, 1, 31), today=date(2026, 2, 1))
    assert state == "expired"
    with pytest.raises(IllegalTransition):
        next_state(state, "accept")


def test_validity_does_not_touch_final_states():
    assert effective_state("accepted", date(2026, 1, 31), today=date(2027, 1, 1)) == "accepted"
    assert effective_state("sent", date(2026, 1, 31), today=date(2026, 1, 31)) == "sent"
