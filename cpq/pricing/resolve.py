"""Which pricebook prices a quote, and which entry of which book prices each SKU on a date.

A quote is priced from one chain of books: the most specific book that applies — the account's
contract book, else its partner's book, else a list book — followed by the books it `extends`.
A book (or an ancestor) outside its effective dates is skipped. Each SKU falls through the chain
on its own: the first book with an entry effective on the quote date prices it, tiers and all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from cpq.pricing.books import Pricebook, PriceEntry, TaxPolicy
from cpq.pricing.errors import CurrencyMismatch, InvalidQuote, NoPricebook, PriceNotFound
from cpq.ruleset.expressions import did_you_mean


@dataclass(frozen=True)
class BookChain:
    """The books that price a quote, most specific first; rounding and tax come from them."""

    books: tuple[Pricebook, ...]
    reason: str  # why the first book was chosen ("contract of account GLOBEX", …)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(b.id for b in self.books)

    @property
    def currency(self) -> str:
        return self.books[0].currency

    @property
    def rounding_mode(self) -> str:
        return self.books[0].rounding_mode

    @property
    def rounding_level(self) -> str:
        return self.books[0].rounding_level

    @property
    def tax(self) -> TaxPolicy | None:
        return next((b.tax for b in self.books if b.tax is not None), None)

    @property
    def tax_book(self) -> Pricebook | None:
        return next((b for b in self.books if b.tax is not None), None)

    def describe(self) -> str:
        return " → ".join(self.ids)


@dataclass(frozen=True, slots=True)
class PriceSource:
    """The entry that prices a SKU (`entry`, from `book`) and the list entry it is compared with."""

    entry: PriceEntry
    book: Pricebook
    list_entry: PriceEntry
    list_book: Pricebook
    where: str  # file:line:col of `entry`, for the waterfall
    list_where: str


def _ancestors(books: Mapping[str, Pricebook], first: Pricebook, on: date) -> tuple[Pricebook, ...]:
    chain, seen, book = [], set(), first
    while book is not None and book.id not in seen:
        seen.add(book.id)
        if book.effective.covers(on):
            chain.append(book)
        book = books.get(book.extends) if book.extends else None
    return tuple(chain)


def _rank(book: Pricebook, channel: str | None) -> tuple:
    # a channel-specific book beats a general one; then the most recently started; then the id
    return (book.channel is not None and book.channel == channel, book.effective.start or date.min, book.id)


def resolve_chain(
    books: Mapping[str, Pricebook],
    currency: str,
    on: date,
    account: Mapping[str, str],
    context: Mapping[str, str],
    explicit: str | None = None,
) -> BookChain:
    """The chain of books for this currency, date, account and channel (or the explicit book)."""
    if explicit is not None:
        book = books.get(explicit)
        if book is None:
            hint = did_you_mean(explicit, books)
            raise InvalidQuote(f"unknown pricebook '{explicit}'" + (f" (did you mean {hint}?)" if hint else ""),
                               errors={"pricebook": [f"unknown pricebook '{explicit}'"]})
        if book.currency != currency:
            raise CurrencyMismatch(f"pricebook '{explicit}' is in {book.currency}, the quote asks for {currency}",
                                   currencies=[book.currency, currency])
        if not book.effective.covers(on):
            raise NoPricebook(f"pricebook '{explicit}' is not in effect on {on.isoformat()}", date=on.isoformat())
        return BookChain(_ancestors(books, book, on), f"pricebook '{explicit}' asked for")

    channel = context.get("channel") or None
    partner = context.get("partner") or account.get("partner") or None
    candidates = [b for b in books.values()
                  if b.currency == currency and b.effective.covers(on) and (b.channel is None or b.channel == channel)]
    levels = []
    for key, label in ((account.get("id"), "contract of account"), (account.get("parent"), "contract of parent account")):
        if key:
            levels.append(([b for b in candidates if b.account == key], f"{label} {key}"))
    if partner:
        levels.append(([b for b in candidates if b.account is None and b.partner == partner], f"partner {partner}"))
    levels.append(([b for b in candidates if b.account is None and b.partner is None], "list prices"))
    for found, reason in levels:
        if found:
            best = max(found, key=lambda b: _rank(b, channel))
            return BookChain(_ancestors(books, best, on), reason)
    raise NoPricebook(
        f"no pricebook in {currency} is in effect on {on.isoformat()}"
        + (f" for channel '{channel}'" if channel else ""),
        currency=currency, date=on.isoformat(), channel=channel,
    )


def find_price(chain: BookChain, sku: str, on: date) -> PriceSource:
    """The entry pricing `sku` on `on` (first book of the chain that has one) and the list entry."""
    found: list[tuple[PriceEntry, Pricebook]] = []
    for book in chain.books:
        for entry in book.prices.get(sku, ()):
            if entry.effective.covers(on):
                found.append((entry, book))
                break
    if not found:
        raise PriceNotFound(
            f"no price for '{sku}' in pricebooks {chain.describe()} on {on.isoformat()}",
            product=sku, pricebooks=list(chain.ids), date=on.isoformat(), currency=chain.currency,
        )
    (entry, book), (list_entry, list_book) = found[0], found[-1]
    return PriceSource(entry, book, list_entry, list_book, str(entry.source), str(list_entry.source))
