"""The quote lifecycle as an explicit state machine: which action leads from which state to which."""

from __future__ import annotations

from datetime import date

from cpq.errors import CPQError

DRAFT = "draft"
PENDING_APPROVAL = "pending_approval"
APPROVED = "approved"
REJECTED = "rejected"
SENT = "sent"
ACCEPTED = "accepted"
DECLINED = "declined"
EXPIRED = "expired"
SUPERSEDED = "superseded"
ORDERING = "ordering"  # the order is queued in the outbox / being sent to order management
ORDERED = "ordered"
ORDER_FAILED = "order_failed"  # order management refused it, or sending gave up (dead letter)

STATES = (DRAFT, PENDING_APPROVAL, APPROVED, REJECTED, SENT, ACCEPTED, DECLINED, EXPIRED, SUPERSEDED, ORDERING,
          ORDERED, ORDER_FAILED)

# action → {from state: to state}
TRANSITIONS: dict[str, dict[str, str]] = {
    "submit": {DRAFT: PENDING_APPROVAL, REJECTED: PENDING_APPROVAL},
    "approve": {PENDING_APPROVAL: APPROVED},
    "reject": {PENDING_APPROVAL: REJECTED},
    "send": {DRAFT: SENT, APPROVED: SENT},
    "accept": {SENT: ACCEPTED},
    "decline": {SENT: DECLINED},
    "expire": {SENT: EXPIRED, DRAFT: EXPIRED, APPROVED: EXPIRED, PENDING_APPROVAL: EXPIRED},
    "supersede": {SENT: SUPERSEDED, APPROVED: SUPERSEDED, PENDING_APPROVAL: SUPERSEDED, REJECTED: SUPERSEDED,
                  DRAFT: SUPERSEDED, DECLINED: SUPERSEDED, EXPIRED: SUPERSEDED},
    # ordering again from ordered / order_failed: partial orders of what is left, or a new try after a failure
    "order": {ACCEPTED: ORDERING, ORDERING: ORDERING, ORDERED: ORDERING, ORDER_FAILED: ORDERING},
    "order_placed": {ORDERING: ORDERED},
    "order_failed": {ORDERING: ORDER_FAILED},
    "revise": {DRAFT: DRAFT, REJECTED: DRAFT, APPROVED: DRAFT, PENDING_APPROVAL: DRAFT},
}
FINAL = frozenset({ACCEPTED, DECLINED, SUPERSEDED, ORDERING, ORDERED, ORDER_FAILED})


class IllegalTransition(CPQError):
    """The action is not allowed in the quote's state; `allowed` lists what is."""

    code = "illegal_transition"
    status = 409
    title = "Not allowed in this state"

    def __init__(self, state: str, action: str):
        allowed = allowed_actions(state)
        super().__init__(f"cannot {action} a quote that is {state}; allowed: {', '.join(allowed) or 'nothing'}",
                         state=state, allowed=allowed)


# done by the service itself (the outbox worker for the order ones), never asked for
SYSTEM_ACTIONS = frozenset({"expire", "supersede", "order_placed", "order_failed"})


def allowed_actions(state: str) -> list[str]:
    """Actions a person may take from `state`, in a stable order."""
    return [action for action, moves in TRANSITIONS.items() if state in moves and action not in SYSTEM_ACTIONS]


def next_state(state: str, action: str) -> str:
    """The state after `action`, or IllegalTransition."""
    moves = TRANSITIONS.get(action)
    if moves is None or state not in moves:
        raise IllegalTransition(state, action)
    return moves[state]


def effective_state(state: str, valid_until: date | None, today: date) -> str:
    """A quote whose validity date has passed is expired, whatever its stored open state says."""
    if valid_until is not None and today > valid_until and state not in FINAL and state != EXPIRED:
        return EXPIRED
    return state
