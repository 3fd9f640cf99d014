"""Document use cases: the PDF of a quote revision a caller may see, and verifying a document hash.

Documents are built from the stored revision (its priced JSON and ruleset version), never re-priced,
so a revision renders the same years later. Loading needs the database; rendering does not, so the
connection is released before the (slow) rendering starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from cpq.accounts import User
from cpq.documents import content
from cpq.documents.brands import Brand, load_brand
from cpq.documents.content import DocumentOptions, QuoteDocument
from cpq.documents.errors import DocumentTooLarge, UnknownDocument
from cpq.documents.formatting import language_for, paper_for
from cpq.errors import InvalidInput, NotFound
from cpq.quotes import lifecycle
from cpq.services import quotes as quote_service
from cpq.store import people
from cpq.store import quotes as repo
from cpq.store.tables import quote_revisions, quotes

HASH = re.compile(r"^[0-9a-f]{64}$")
VERIFY_PATH = "/api/v1/quotes/verify/"


@dataclass(frozen=True)
class DocumentRequest:
    """What the caller asked for; None means "from the buyer's country" (language, paper)."""

    language: str | None = None
    paper: str | None = None
    hide_component_prices: bool = False
    hide_discounts: bool = False
    waterfall: bool = False


def verify_url(public_url: str, digest: str) -> str:
    return f"{public_url.rstrip('/')}{VERIFY_PATH}{digest}"


def filename(number: str, revision: int) -> str:
    return f"{number}-rev{revision}.pdf"


def load_document(conn: sa.Connection, user: User | None, number: str, revision: int | None,
                  asked: DocumentRequest, *, templates_dir: str, public_url: str, today: date,
                  max_rows: int = content.MAX_ROWS) -> tuple[QuoteDocument, Brand]:
    """The document of revision `revision` (None: the current one) and its brand.

    `user` None is the operator at the command line; anyone else sees only quotes of accounts they
    may see (another customer's quote is a 404, as everywhere).
    """
    if user is not None:
        quote = quote_service.view(conn, user, number, today).quote  # NotFound when not visible
    else:
        quote = repo.get_quote(conn, number)
    n = quote.current_revision if revision is None else revision
    row = repo.get_revision(conn, quote.id, n)
    account = people.get_account(conn, quote.account_id)
    options = DocumentOptions(language=asked.language or language_for(account.country),
                              paper=asked.paper or paper_for(account.country),
                              hide_component_prices=asked.hide_component_prices,
                              hide_discounts=asked.hide_discounts, waterfall=asked.waterfall)
    rows = content.count_rows(row.priced, options)
    if rows > max_rows:
        raise DocumentTooLarge(f"the document would have {rows} table rows; at most {max_rows} are rendered "
                               "(leave out the waterfall appendix or split the quote)", rows=rows, max_rows=max_rows)
    owner = people.get_user(conn, quote.owner_id)
    accepted = None
    if row.accepted_at is not None:
        email = people.get_user(conn, row.accepted_by).email if row.accepted_by is not None else None
        accepted = content.Acceptance(name=row.accepted_name or "", email=email, at=row.accepted_at)
    brand = load_brand(templates_dir, quote.partner_id)
    seller = content.Party(name=brand.name, address=brand.address, tax_id=brand.tax_id, contact=brand.contact)
    buyer = content.Party(name=account.name, address=account.address, tax_id=account.tax_id, country=account.country)
    doc = content.build_document(
        number=quote.number, revision=row.revision,
        state=lifecycle.effective_state(row.state, quote.valid_until, today), currency=quote.currency,
        issue_date=(row.sent_at or row.created_at).date(), valid_until=quote.valid_until,
        payment_terms=quote.payment_terms, delivery_terms=quote.delivery_terms, seller=seller, buyer=buyer,
        owner=content.Contact(name=owner.name, email=owner.email), priced=row.priced,
        ruleset_version=row.ruleset_version, document_hash=row.document_hash,
        verify_url=verify_url(public_url, row.document_hash) if row.document_hash else None,
        accepted=accepted, options=options)
    return doc, brand


def verify(conn: sa.Connection, digest: str, today: date) -> dict:
    """Whether a document hash belongs to a sent revision, and whether that revision is still current.

    Public: the answer reveals the quote number, revision, state and whether it is current — no
    customer, no amounts.
    """
    digest = digest.strip().lower()
    if not HASH.match(digest):
        raise InvalidInput("a document hash is 64 hexadecimal characters",
                           errors={"document_hash": ["64 hexadecimal characters"]})
    row = conn.execute(sa.select(quote_revisions.c.quote_id, quote_revisions.c.revision, quote_revisions.c.state)
                       .where(quote_revisions.c.document_hash == digest)).first()
    if row is None:
        raise UnknownDocument("no quote was sent with this document hash: the document is not genuine")
    quote = conn.execute(sa.select(quotes.c.number, quotes.c.current_revision, quotes.c.valid_until)
                         .where(quotes.c.id == row.quote_id)).first()
    if quote is None:  # pragma: no cover - revisions always belong to a quote
        raise NotFound("the quote of this document no longer exists")
    state = lifecycle.effective_state(row.state, quote.valid_until, today)
    current = row.revision == quote.current_revision and state != lifecycle.SUPERSEDED
    return {"document_hash": digest, "genuine": True, "number": quote.number, "revision": row.revision,
            "state": state, "current": current}
