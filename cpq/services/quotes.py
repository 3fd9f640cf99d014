"""Quote use cases: create, revise, submit, approve, send, accept, order — one transaction each.

This is the service layer between the REST resources and the core: it checks who may do what,
runs the lifecycle state machine, re-validates and re-prices every save through
`cpq.quotes.revision`, and stores the result through `cpq.store.quotes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from cpq.accounts import User, sees_cost
from cpq.errors import Conflict, Forbidden, InvalidInput, NotFound
from cpq.orders import service as orders
from cpq.quotes import lifecycle
from cpq.quotes.revision import (
    QuoteTerms,
    diff_revisions,
    document_hash,
    facts,
    got_worse,
    policy_fields,
    price_revision,
)
from cpq.ruleset.model import Ruleset
from cpq.store import numbers
from cpq.store import quotes as repo
from cpq.store.people import get_account, visible_account, visible_account_ids

MAX_LINES = 500
MAX_PAGE = 100
APPROVER_LEVEL = {"sales": 0, "sales_manager": 1, "pricing_admin": 2, "admin": 3}
CREATORS = ("buyer", "sales", "sales_manager", "partner", "admin")


@dataclass(frozen=True)
class QuoteView:
    """A quote as one caller may see it: header, current revision, approvals."""

    quote: repo.QuoteRow
    revision: repo.RevisionRow
    approvals: list[dict]
    state: str  # after applying the validity date

    def as_dict(self, user: User) -> dict:
        q, r = self.quote, self.revision
        return {
            "id": q.number, "number": q.number, "state": self.state, "account_id": q.account_id,
            "partner_id": q.partner_id, "owner_id": q.owner_id, "currency": q.currency, "channel": q.channel,
            "pricebook": q.pricebook_id, "valid_until": q.valid_until, "payment_terms": q.payment_terms,
            "delivery_terms": q.delivery_terms, "term_months": q.term_months, "discount": q.discount,
            "revision": q.current_revision, "order_id": q.order_id, "created_at": q.created_at,
            "updated_at": q.updated_at, "lines": r.request, "priced": visible_priced(r.priced, user),
            "ruleset_version": r.ruleset_version, "document_hash": r.document_hash,
            "accepted": None if r.accepted_at is None else
            {"name": r.accepted_name, "by": r.accepted_by, "at": r.accepted_at, "document_hash": r.document_hash},
            "approvals": [_approval_view(a) for a in self.approvals if a["revision"] == q.current_revision],
            "allowed_actions": lifecycle.allowed_actions(self.state),
        }


def _approval_view(a: Mapping) -> dict:
    return {"id": a["id"], "policy_id": a["policy_id"], "role": a["role"], "status": a["status"],
            "reason": a["reason"], "decided_by": a["decided_by"], "comment": a["comment"], "decided_at": a["decided_at"]}


def visible_priced(priced: Mapping, user: User) -> dict:
    """The priced revision without what the caller's role may not see (margin, cost)."""
    if sees_cost(user):
        return dict(priced)
    out = dict(priced)
    out["totals"] = {k: v for k, v in priced["totals"].items() if k != "margin_percent"}
    out["lines"] = [{**line, "items": [{k: v for k, v in item.items() if k != "cost"} for item in line["items"]]}
                    for line in priced["lines"]]
    return out


def _load(conn: sa.Connection, user: User, number: str, *, for_update: bool = False) -> repo.QuoteRow:
    quote = repo.get_quote(conn, number, for_update=for_update)
    # never reveal that another customer's quote exists
    visible_account(conn, user, quote.account_id, hidden=f"quote '{number}' not found")
    return quote


def _check_etag(quote: repo.QuoteRow, if_match: str | None) -> None:
    if if_match is None:
        raise PreconditionRequired("send the quote's ETag in If-Match to change it")
    tags = [t.strip() for t in if_match.split(",")]
    if quote.etag not in tags and f"W/{quote.etag}" not in tags and "*" not in tags:
        raise repo.PreconditionFailed(f"quote {quote.number} is at {quote.etag}; read it again")


class ApprovalRequired(Conflict):
    code = "approval_required"
    title = "Approval required"


class PreconditionRequired(Forbidden):
    code = "precondition_required"
    status = 428
    title = "If-Match required"


def _terms(quote: repo.QuoteRow) -> QuoteTerms:
    return QuoteTerms(currency=quote.currency, channel=quote.channel, pricebook=quote.pricebook_id,
                      valid_until=quote.valid_until, payment_terms=quote.payment_terms,
                      delivery_terms=quote.delivery_terms, term_months=quote.term_months, discount=quote.discount)


def _pricing_role(user: User) -> str:
    # manual discounts are judged against the limit of the person who set them
    return user.role if user.role in APPROVER_LEVEL else "sales"


def _check_lines(lines: list) -> None:
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"a quote holds at most {MAX_LINES} lines; this one has {len(lines)}")


def view(conn: sa.Connection, user: User, number: str, today: date) -> QuoteView:
    quote = _load(conn, user, number)
    revision = repo.get_revision(conn, quote.id, quote.current_revision)
    state = lifecycle.effective_state(quote.state, quote.valid_until, today)
    return QuoteView(quote, revision, repo.approvals_of(conn, quote.id), state)


def create(conn: sa.Connection, ruleset: Ruleset, user: User, data: dict, today: date) -> QuoteView:
    """A new draft quote for an account the caller may see, priced now."""
    if user.role not in CREATORS:
        raise Forbidden(f"a {user.role} cannot create quotes")
    account = visible_account(conn, user, data["account_id"])
    lines = data["lines"]
    _check_lines(lines)
    currency = data.get("currency") or account.currency or "USD"
    terms = QuoteTerms(currency=currency, channel=data.get("channel") or ("partner" if account.partner_id else "direct"),
                       pricebook=data.get("pricebook"), valid_until=data.get("valid_until"),
                       payment_terms=data.get("payment_terms"), delivery_terms=data.get("delivery_terms"),
                       term_months=data.get("term_months"), discount=data.get("discount"))
    if terms.valid_until is not None and terms.valid_until < today:
        raise InvalidInput("valid_until is in the past", errors={"valid_until": ["must be today or later"]})
    priced = price_revision(ruleset, terms, lines, account, _pricing_role(user), today)
    number = numbers.next_quote_number(conn, today.year)
    quote_id = repo.insert_quote(
        conn, number=number, account_id=account.id, partner_id=account.partner_id, owner_id=user.id,
        state=lifecycle.DRAFT, current_revision=1, currency=terms.currency, channel=terms.channel,
        pricebook_id=terms.pricebook, valid_until=terms.valid_until, payment_terms=terms.payment_terms,
        delivery_terms=terms.delivery_terms, term_months=terms.term_months, discount=terms.discount)
    repo.insert_revision(conn, quote_id, 1, state=lifecycle.DRAFT, request=lines, priced=priced, created_by=user.id)
    return view(conn, user, number, today)


def revise(conn: sa.Connection, ruleset: Ruleset, user: User, number: str, if_match: str | None, data: dict,
           today: date) -> QuoteView:
    """Change lines or terms: re-validated and re-priced; a sent revision stays as it was (N+1 is made)."""
    quote = _load(conn, user, number, for_update=True)
    _check_etag(quote, if_match)
    if user.role == "buyer":
        raise Forbidden("buyers accept or decline quotes; ask your sales contact for changes")
    state = lifecycle.effective_state(quote.state, quote.valid_until, today)
    if state in lifecycle.FINAL:
        raise lifecycle.IllegalTransition(state, "revise")
    current = repo.get_revision(conn, quote.id, quote.current_revision)
    lines = data.get("lines", current.request)
    _check_lines(lines)
    header = {k: data[k] for k in ("valid_until", "payment_terms", "delivery_terms", "term_months", "discount",
                                   "pricebook") if k in data}
    if header.get("valid_until") is not None and header["valid_until"] < today:
        raise InvalidInput("valid_until is in the past", errors={"valid_until": ["must be today or later"]})
    renamed = {"pricebook_id": header.pop("pricebook")} if "pricebook" in header else {}
    terms = QuoteTerms(**{**_terms(quote).__dict__, **header, **({"pricebook": renamed["pricebook_id"]} if renamed else {})})
    priced = price_revision(ruleset, terms, lines, get_account(conn, quote.account_id), _pricing_role(user), today)
    if current.sent_at is None:  # never shown to the buyer: the draft revision is edited in place
        repo.replace_revision(conn, quote.id, quote.current_revision, request=lines, priced=priced)
        revision = quote.current_revision
        repo.update_revision(conn, quote.id, revision, state=lifecycle.DRAFT)
    else:
        revision = quote.current_revision + 1
        repo.insert_revision(conn, quote.id, revision, state=lifecycle.DRAFT, request=lines, priced=priced,
                             created_by=user.id)
    repo.update_quote(conn, quote, state=lifecycle.DRAFT, current_revision=revision, **header, **renamed)
    return view(conn, user, number, today)


def submit(conn: sa.Connection, user: User, number: str, if_match: str | None, ruleset: Ruleset,
           today: date) -> QuoteView:
    """Ask for the approvals the quote needs; approvals of an earlier revision carry over unless a
    value their policy tested got worse since."""
    quote = _load(conn, user, number, for_update=True)
    _check_etag(quote, if_match)
    state = lifecycle.effective_state(quote.state, quote.valid_until, today)
    lifecycle.next_state(state, "submit")
    revision = repo.get_revision(conn, quote.id, quote.current_revision)
    now_facts = facts(revision.priced)
    earlier = [a for a in repo.approvals_of(conn, quote.id) if a["revision"] < quote.current_revision
               and a["status"] in ("approved", "carried_over")]
    pending = 0
    lines = {line["id"]: line for line in revision.priced["lines"]}
    for needed in revision.priced["approvals"]:
        if needed.get("rule_id"):
            policy_id, tested_facts = needed["rule_id"], now_facts
            fields = policy_fields(ruleset, policy_id)
        else:  # a manual discount above the limit of the person who gave it: the discount is what is tested
            policy_id = f"discount-limit:{needed.get('line') or 'quote'}"
            given = lines.get(needed.get("line"), {}).get("manual_discount") or quote.discount or "0%"
            tested_facts = {"manual_discount": Decimal(given.removesuffix("%")) / 100}
            fields = ["manual_discount"]
        tested = {k: str(v) for k, v in tested_facts.items()}
        previous = next((a for a in reversed(earlier) if a["policy_id"] == policy_id and a["role"] == needed["role"]), None)
        carried = False
        if previous is not None:
            before = {k: Decimal(v) for k, v in previous["tested"].items()}
            carried = not got_worse(fields, before, tested_facts)
        status = "carried_over" if carried else "pending"
        pending += status == "pending"
        repo.insert_approval(conn, quote.id, quote.current_revision, policy_id=policy_id, role=needed["role"],
                             status=status, reason=needed["reason"], tested=tested)
    new_state = lifecycle.next_state(state, "submit")
    if pending == 0:
        new_state = lifecycle.APPROVED  # nothing to approve (or everything carried over)
    repo.update_revision(conn, quote.id, quote.current_revision, state=new_state)
    repo.update_quote(conn, quote, state=new_state)
    return view(conn, user, number, today)


def decide(conn: sa.Connection, user: User, number: str, if_match: str | None, approve: bool, comment: str | None,
           today: date) -> QuoteView:
    """Approve or reject the lowest pending approval level the caller holds the role for."""
    quote = _load(conn, user, number, for_update=True)
    _check_etag(quote, if_match)
    state = lifecycle.effective_state(quote.state, quote.valid_until, today)
    action = "approve" if approve else "reject"
    lifecycle.next_state(state, action)
    pending = [a for a in repo.approvals_of(conn, quote.id, quote.current_revision) if a["status"] == "pending"]
    if not pending:
        raise Conflict("no approval is pending on this quote")
    lowest = min(APPROVER_LEVEL.get(a["role"], 0) for a in pending)
    level = [a for a in pending if APPROVER_LEVEL.get(a["role"], 0) == lowest]
    mine = [a for a in level if a["role"] == user.role or user.role == "admin"]
    if not mine:
        roles = sorted({a["role"] for a in level})
        raise Forbidden(f"the next approval needs the role {' or '.join(roles)}; you are {user.role}",
                        required=roles)
    if not approve and not (comment or "").strip():
        raise InvalidInput("say why the quote is rejected", errors={"comment": ["required when rejecting"]})
    for a in mine:
        repo.decide_approval(conn, a["id"], "approved" if approve else "rejected", user.id, comment)
    remaining = len(pending) - len(mine)
    new_state = state
    if not approve:
        new_state = lifecycle.REJECTED
    elif remaining == 0:
        new_state = lifecycle.APPROVED
    if new_state != state:
        repo.update_revision(conn, quote.id, quote.current_revision, state=new_state)
    repo.update_quote(conn, quote, state=new_state)
    return view(conn, user, number, today)


def send(conn: sa.Connection, user: User, number: str, if_match: str | None, today: date) -> QuoteView:
    """Freeze the current revision, fix its document hash, and supersede what was sent before."""
    quote = _load(conn, user, number, for_update=True)
    _check_etag(quote, if_match)
    if user.role == "buyer":
        raise Forbidden("a buyer cannot send quotes")
    state = lifecycle.effective_state(quote.state, quote.valid_until, today)
    revision = repo.get_revision(conn, quote.id, quote.current_revision)
    if state == lifecycle.DRAFT and revision.priced["approvals"]:
        roles = sorted({a["role"] for a in revision.priced["approvals"]})
        raise ApprovalRequired(f"this quote needs approval by {', '.join(roles)} before it is sent; submit it",
                               required=roles, allowed=["submit"])
    lifecycle.next_state(state, "send")
    for older in repo.list_revisions(conn, quote.id):
        if older.revision != revision.revision and older.state in (lifecycle.SENT, lifecycle.EXPIRED, lifecycle.DECLINED):
            repo.update_revision(conn, quote.id, older.revision, state=lifecycle.SUPERSEDED)
    digest = document_hash(quote.number, revision.revision, revision.priced)
    repo.update_revision(conn, quote.id, revision.revision, state=lifecycle.SENT, sent_at=repo.now(), document_hash=digest)
    repo.update_quote(conn, quote, state=lifecycle.SENT)
    return view(conn, user, number, today)


def accept(conn: sa.Connection, user: User, number: str, if_match: str | None, name: str, shown_hash: str,
           today: date) -> QuoteView:
    """The buyer accepts the exact revision whose document hash they were shown."""
    quote = _load(conn, user, number, for_update=True)
    _check_etag(quote, if_match)
    if user.role not in ("buyer", "admin"):
        raise Forbidden("only the buyer of the account accepts a quote")
    state = lifecycle.effective_state(quote.state, quote.valid_until, today)
    lifecycle.next_state(state, "accept")
    revision = repo.get_revision(conn, quote.id, quote.current_revision)
    if shown_hash != revision.document_hash:
        raise Conflict("the document you accept is not the current one; reload the quote",
                       current_document_hash=revision.document_hash)
    repo.update_revision(conn, quote.id, revision.revision, state=lifecycle.ACCEPTED, accepted_name=name.strip(),
                         accepted_by=user.id, accepted_at=repo.now())
    quote = repo.update_quote(conn, quote, state=lifecycle.ACCEPTED)
    # the order is asked for in this same transaction: accepted if and only if queued (docs/order-management.md)
    orders.queue_on_accept(conn, quote, repo.get_revision(conn, quote.id, revision.revision), today)
    return view(conn, user, number, today)


ORDERERS = ("sales", "sales_manager", "admin")


def order(conn: sa.Connection, user: User, number: str, if_match: str | None, data: Mapping,
          today: date) -> QuoteView:
    """Order (part of) an accepted quote: the outbox messages are written with the state change."""
    quote = _load(conn, user, number, for_update=True)
    _check_etag(quote, if_match)
    if user.role not in ORDERERS:
        raise Forbidden(f"sales order accepted quotes; you are {user.role}")
    state = lifecycle.effective_state(quote.state, quote.valid_until, today)
    new_state = lifecycle.next_state(state, "order")
    revision = repo.get_revision(conn, quote.id, quote.current_revision)
    orders.queue_orders(conn, quote, revision, lines=data.get("lines"), split_by=data.get("split_by"),
                        requested_date=data.get("requested_date"), today=today)
    repo.update_quote(conn, quote, state=new_state)
    return view(conn, user, number, today)


def decline(conn: sa.Connection, user: User, number: str, if_match: str | None, today: date) -> QuoteView:
    quote = _load(conn, user, number, for_update=True)
    _check_etag(quote, if_match)
    if user.role not in ("buyer", "admin"):
        raise Forbidden("only the buyer of the account declines a quote")
    state = lifecycle.effective_state(quote.state, quote.valid_until, today)
    lifecycle.next_state(state, "decline")
    repo.update_revision(conn, quote.id, quote.current_revision, state=lifecycle.DECLINED)
    repo.update_quote(conn, quote, state=lifecycle.DECLINED)
    return view(conn, user, number, today)


def listing(conn: sa.Connection, user: User, filters: dict, today: date) -> dict:
    visible = visible_account_ids(conn, user)
    limit = min(filters.get("limit", 20), MAX_PAGE)
    offset = filters.get("offset", 0)
    rows, total = repo.list_quotes(conn, visible, state=filters.get("state"), account_id=filters.get("account_id"),
                                   owner_id=filters.get("owner_id"), number_prefix=filters.get("number"),
                                   limit=limit, offset=offset)
    items = [{"id": q.number, "number": q.number, "state": lifecycle.effective_state(q.state, q.valid_until, today),
              "account_id": q.account_id, "currency": q.currency, "revision": q.current_revision,
              "valid_until": q.valid_until, "updated_at": q.updated_at} for q in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def revisions(conn: sa.Connection, user: User, number: str) -> list[dict]:
    quote = _load(conn, user, number)
    return [{"revision": r.revision, "state": r.state, "ruleset_version": r.ruleset_version,
             "grand_total": r.grand_total, "created_at": r.created_at, "sent_at": r.sent_at,
             "document_hash": r.document_hash} for r in repo.list_revisions(conn, quote.id)]


def revision_view(conn: sa.Connection, user: User, number: str, n: int) -> dict:
    quote = _load(conn, user, number)
    r = repo.get_revision(conn, quote.id, n)
    return {"revision": r.revision, "state": r.state, "lines": r.request, "priced": visible_priced(r.priced, user),
            "ruleset_version": r.ruleset_version, "document_hash": r.document_hash, "sent_at": r.sent_at}


def diff(conn: sa.Connection, user: User, number: str, n: int, against: int | None) -> dict:
    quote = _load(conn, user, number)
    base = against if against is not None else n - 1
    if base < 1:
        raise NotFound(f"revision {n} has no earlier revision to compare with")
    old, new = repo.get_revision(conn, quote.id, base), repo.get_revision(conn, quote.id, n)
    return {"from": base, "to": n, **diff_revisions(old.request, visible_priced(old.priced, user),
                                                     new.request, visible_priced(new.priced, user))}
