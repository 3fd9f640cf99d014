"""An order's status: received → in_fulfilment → shipped → closed | cancelled, and nothing else."""

from __future__ import annotations

import pytest

from cpq.orders.status import MOVES, STATUSES, IllegalStatusChange, next_status

LEGAL = [(current, wanted) for current, targets in MOVES.items() for wanted in targets]
ILLEGAL = [(current, wanted) for current in STATUSES for wanted in STATUSES if wanted not in MOVES[current]]


@pytest.mark.parametrize(("current", "wanted"), LEGAL)
def test_each_legal_status_change_is_made(current, wanted):
    assert next_status(current, wanted) == wanted


@pytest.mark.parametrize(("current", "wanted"), ILLEGAL)
def test_each_illegal_status_change_is_a_409_listing_what_is_allowed(current, wanted):
    with pytest.raises(IllegalStatusChange) as info:
        next_status(current, wanted)
    assert info.value.status == 409
    assert info.value.extra["allowed"] == list(MOVES[current])


def test_the_happy_path_ends_closed():
    status = "received"
    for wanted in ("in_fulfilment", "shipped", "closed"):
        status = next_status(status, wanted)
    assert status == "closed"


def test_a_shipped_order_can_no_longer_be_cancelled():
    with pytest.raises(IllegalStatusChange, match="an order that is shipped cannot become cancelled; allowed: closed"):
        next_status("shipped", "cancelled")
