"""An order's status once order management has it: received → in_fulfilment → shipped → closed | cancelled."""

from __future__ import annotations

from cpq.errors import CPQError

RECEIVED = "received"
IN_FULFILMENT = "in_fulfilment"
SHIPPED = "shipped"
CLOSED = "closed"
CANCELLED = "cancelled"

STATUSES = (RECEIVED, IN_FULFILMENT, SHIPPED, CLOSED, CANCELLED)

# status → the statuses an event may move it to; a shipped order is no longer cancelled, it is returned
MOVES: dict[str, tuple[str, ...]] = {
    RECEIVED: (IN_FULFILMENT, CANCELLED),
    IN_FULFILMENT: (SHIPPED, CANCELLED),
    SHIPPED: (CLOSED,),
    CLOSED: (),
    CANCELLED: (),
}


class IllegalStatusChange(CPQError):
    """A status event that does not follow from the order's current status; `allowed` lists what does."""

    code = "illegal_status_change"
    status = 409
    title = "Not allowed in this order status"

    def __init__(self, current: str, wanted: str):
        allowed = list(MOVES.get(current, ()))
        super().__init__(f"an order that is {current} cannot become {wanted}; allowed: {', '.join(allowed) or 'nothing'}",
                         order_status=current, allowed=allowed)


def next_status(current: str, wanted: str) -> str:
    """`wanted` if an order that is `current` may move there, else IllegalStatusChange."""
    if wanted not in MOVES.get(current, ()):
        raise IllegalStatusChange(current, wanted)
    return wanted
