"""Repository for quotes, their revisions, approvals and idempotency keys (SQLAlchemy Core)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa

from cpq.errors import CPQError, NotFound
from cpq.store.tables import idempotency_keys, quote_approvals, quote_revisions, quotes


class PreconditionFailed(CPQError):
    code = "precondition_failed"
    status = 412
    title = "The quote changed since you read it"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class QuoteRow:
    id: int
    number: str
    account_id: str
    partner_id: str | None
    owner_id: int
    state: str
    current_revision: int
    currency: str
    channel: str
    pricebook_id: str | None
    valid_until: date | None
    payment_terms: str | None
    delivery_terms: str | None
    term_months: int | None
    discount: str | None
    row_version: int
    order_id: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def etag(self) -> str:
        return f'"{self.number}.{self.row_version}"'


@dataclass(frozen=True)
class RevisionRow:
    quote_id: int
    revision: int
    state: str
    request: list
    priced: dict
    ruleset_version: str
    grand_total: str
    created_by: int
    created_at: datetime
    sent_at: datetime | None
    document_hash: str | None
    accepted_name: str | None
    accepted_by: int | None
    accepted_at: datetime | None


def _quote(row) -> QuoteRow:
    return QuoteRow(**dict(row._mapping))


def _revision(row) -> RevisionRow:
    data = dict(row._mapping)
    data["request"] = json.loads(data["request"])
    data["priced"] = json.loads(data["priced"])
    return RevisionRow(**data)


def insert_quote(conn: sa.Connection, **values) -> int:
    stamp = now()
    result = conn.execute(quotes.insert().values(row_version=1, created_at=stamp, updated_at=stamp, **values))
    return result.inserted_primary_key[0]


def get_quote(conn: sa.Connection, number: str, *, for_update: bool = False) -> QuoteRow:
    query = sa.select(quotes).where(quotes.c.number == number)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"quote '{number}' not found")
    return _quote(row)


def update_quote(conn: sa.Connection, quote: QuoteRow, **values) -> QuoteRow:
    """Write `values` if nobody changed the quote since `quote` was read (optimistic lock)."""
    done = conn.execute(
        quotes.update()
        .where(quotes.c.id == quote.id, quotes.c.row_version == quote.row_version)
        .values(row_version=quote.row_version + 1, updated_at=now(), **values)
    )
    if done.rowcount != 1:
        raise PreconditionFailed(f"quote {quote.number} was changed by someone else; read it again")
    return get_quote(conn, quote.number)


def list_quotes(conn: sa.Connection, account_ids: list[str] | None, *, state: str | None = None,
                account_id: str | None = None, owner_id: int | None = None, number_prefix: str | None = None,
                limit: int = 50, offset: int = 0) -> tuple[list[QuoteRow], int]:
    """Quotes of the given accounts (None = every account), newest first, and the total count."""
    where = []
    if account_ids is not None:
        where.append(quotes.c.account_id.in_(account_ids or [""]))
    if state:
        where.append(quotes.c.state == state)
    if account_id:
        where.append(quotes.c.account_id == account_id)
    if owner_id is not None:
        where.append(quotes.c.owner_id == owner_id)
    if number_prefix:
        where.append(quotes.c.number.startswith(number_prefix, autoescape=True))
    total = conn.execute(sa.select(sa.func.count()).select_from(quotes).where(*where)).scalar_one()
    rows = conn.execute(sa.select(quotes).where(*where).order_by(quotes.c.id.desc()).limit(limit).offset(offset))
    return [_quote(r) for r in rows], total


def insert_revision(conn: sa.Connection, quote_id: int, revision: int, *, state: str, request: list, priced: dict,
                    created_by: int) -> None:
    conn.execute(quote_revisions.insert().values(
        quote_id=quote_id, revision=revision, state=state, request=json.dumps(request, sort_keys=True),
        priced=json.dumps(priced, sort_keys=True), ruleset_version=priced["ruleset_version"],
        grand_total=priced["totals"]["grand_total"], created_by=created_by, created_at=now()))


def replace_revision(conn: sa.Connection, quote_id: int, revision: int, *, request: list, priced: dict) -> None:
    conn.execute(quote_revisions.update()
                 .where(quote_revisions.c.quote_id == quote_id, quote_revisions.c.revision == revision)
                 .values(request=json.dumps(request, sort_keys=True), priced=json.dumps(priced, sort_keys=True),
                         ruleset_version=priced["ruleset_version"], grand_total=priced["totals"]["grand_total"]))


def update_revision(conn: sa.Connection, quote_id: int, revision: int, **values) -> None:
    conn.execute(quote_revisions.update()
                 .where(quote_revisions.c.quote_id == quote_id, quote_revisions.c.revision == revision)
                 .values(**values))


def get_revision(conn: sa.Connection, quote_id: int, revision: int) -> RevisionRow:
    row = conn.execute(sa.select(quote_revisions).where(
        quote_revisions.c.quote_id == quote_id, quote_revisions.c.revision == revision)).first()
    if row is None:
        raise NotFound(f"revision {revision} not found")
    return _revision(row)


def list_revisions(conn: sa.Connection, quote_id: int) -> list[RevisionRow]:
    rows = conn.execute(sa.select(quote_revisions).where(quote_revisions.c.quote_id == quote_id)
                        .order_by(quote_revisions.c.revision))
    return [_revision(r) for r in rows]


def insert_approval(conn: sa.Connection, quote_id: int, revision: int, *, policy_id: str, role: str, status: str,
                    reason: str, tested: dict, decided_by: int | None = None, comment: str | None = None) -> None:
    conn.execute(quote_approvals.insert().values(
        quote_id=quote_id, revision=revision, policy_id=policy_id, role=role, status=status, reason=reason,
        tested=json.dumps(tested, sort_keys=True), decided_by=decided_by, comment=comment,
        decided_at=now() if decided_by is not None else None))


def approvals_of(conn: sa.Connection, quote_id: int, revision: int | None = None) -> list[dict]:
    query = sa.select(quote_approvals).where(quote_approvals.c.quote_id == quote_id)
    if revision is not None:
        query = query.where(quote_approvals.c.revision == revision)
    rows = conn.execute(query.order_by(quote_approvals.c.id))
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["tested"] = json.loads(item["tested"])
        out.append(item)
    return out


def decide_approval(conn: sa.Connection, approval_id: int, status: str, user_id: int, comment: str | None) -> None:
    conn.execute(quote_approvals.update().where(quote_approvals.c.id == approval_id)
                 .values(status=status, decided_by=user_id, comment=comment, decided_at=now()))


def find_idempotent(conn: sa.Connection, user_id: int, key: str) -> dict | None:
    row = conn.execute(sa.select(idempotency_keys).where(
        idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)).first()
    return None if row is None else dict(row._mapping)


def save_idempotent(conn: sa.Connection, user_id: int, key: str, endpoint: str, body_hash: str, status: int,
                    response: dict, etag: str | None) -> None:
    conn.execute(idempotency_keys.insert().values(
        user_id=user_id, key=key, endpoint=endpoint, body_hash=body_hash, status=status,
        response=json.dumps(response, sort_keys=True, default=str), etag=etag, created_at=now()))
