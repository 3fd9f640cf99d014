"""Pricebook checks beyond what loading rejects: problems that make a price wrong or a rule dead.

`lint_pricebooks(ruleset)` returns (source, rule_id, message) findings, sorted by file and line:

- tier tables: a closed last band on volume/graduated tiers (larger quantities have no price),
  gaps or overlaps inside a table, and tables of one SKU whose bands differ between the list
  books of different currencies;
- rules that can never fire: conditions that contradict themselves, dates outside their book's
  dates, targets that no SKU priced by the book's chain matches, accounts the book is not for;
- prices for SKUs no product sells;
- SKUs a list book (one that extends nothing, so claims to price the whole catalog) has no price for,
  or has no price for on some day of the book's dates.
"""

from __future__ import annotations

from datetime import date, timedelta

import sympy

from cpq.catalog import Source
from cpq.pricing.books import Adjustment, Effective, Floor, Pricebook, Tiers
from cpq.ruleset.model import Ruleset
from cpq.ruleset.scopes import Subtotal

Finding = tuple[Source, str, str]


def lint_pricebooks(ruleset: Ruleset) -> list[Finding]:
    """Every pricebook finding of this Ruleset, sorted by source."""
    findings: list[Finding] = []
    sold = _sold_skus(ruleset)
    for book in ruleset.pricebooks.values():
        findings += _tier_findings(book)
        findings += _rule_findings(ruleset, book)
        findings += [(entries[0].source, book.id, f"price for '{sku}', which no product sells")
                     for sku, entries in book.prices.items() if sku not in sold]
        if book.extends is None and book.account is None and book.partner is None:
            findings += _coverage_findings(book, sold)
    findings += _currency_tier_findings(ruleset)
    return sorted(findings, key=lambda f: (f[0].path, f[0].line, f[0].col, f[1], f[2]))


def _sold_skus(ruleset: Ruleset) -> set[str]:
    sold = set(ruleset.products)
    for product in ruleset.products.values():
        sold.update(product.option_ids)
    return sold


def _bands(tiers: Tiers) -> str:
    return ", ".join(f"{b.first}–{b.last}" if b.last is not None else f"{b.first}+" for b in tiers.bands)


def _tier_findings(book: Pricebook) -> list[Finding]:
    out = []
    for sku, entries in book.prices.items():
        for entry in entries:
            tiers = entry.tiers
            if tiers is None:
                continue
            expect = None
            for band in tiers.bands:
                if expect is not None and band.first != expect:
                    what = "gap" if band.first > expect else "overlap"
                    out.append((band.source, book.id, f"tier table for '{sku}' has a {what} before {band.first}"))
                expect = None if band.last is None else band.last + 1
            last = tiers.bands[-1].last
            if tiers.mode in ("volume", "graduated") and last is not None:
                out.append((entry.source, book.id,
                            f"{tiers.mode} tiers for '{sku}' end at {last}: larger quantities have no price"))
    return out


def _currency_tier_findings(ruleset: Ruleset) -> list[Finding]:
    """A SKU tiered in the list books of two currencies should break at the same quantities."""
    roots = [b for b in ruleset.pricebooks.values() if b.extends is None and b.account is None and b.partner is None]
    seen: dict[str, tuple[Pricebook, Tiers]] = {}
    out = []
    for book in sorted(roots, key=lambda b: b.id):
        for sku, entries in book.prices.items():
            for entry in entries:
                if entry.tiers is None:
                    continue
                first = seen.setdefault(sku, (book, entry.tiers))
                other_book, other = first
                if other_book.currency != book.currency and _bands(other) != _bands(entry.tiers):
                    out.append((entry.source, book.id,
                                f"tiers for '{sku}' break at {_bands(entry.tiers)} in {book.currency} but at "
                                f"{_bands(other)} in {other_book.currency} ('{other_book.id}')"))
    return out


def _chain(ruleset: Ruleset, book: Pricebook) -> list[Pricebook]:
    chain, seen = [], set()
    while book is not None and book.id not in seen:
        seen.add(book.id)
        chain.append(book)
        book = ruleset.pricebooks.get(book.extends) if book.extends else None
    return chain


def _rule_findings(ruleset: Ruleset, book: Pricebook) -> list[Finding]:
    out = []
    chain = _chain(ruleset, book)
    priced = {sku for b in chain for sku in b.prices}
    info = {**{o.id: (o.category, o.family) for o in ruleset.options.values()},
            **{p.id: (p.category, p.family) for p in ruleset.products.values()}}
    rules: list[Adjustment | Floor] = [*book.adjustments, *book.floors]
    for rule in rules:
        reason = _never_fires(rule, book, priced, info)
        if reason:
            out.append((rule.source, rule.id, f"never fires: {reason}"))
    return out


def _never_fires(rule: Adjustment | Floor, book: Pricebook, priced: set[str], info) -> str | None:
    effective = getattr(rule, "effective", Effective())
    if not effective.overlaps(book.effective):
        return f"its dates do not overlap the dates of pricebook '{book.id}'"
    a = rule.applies_to
    if book.account and a.accounts and book.account not in a.accounts:
        return f"pricebook '{book.id}' is for account {book.account}, the rule only for {', '.join(a.accounts)}"
    if a.products or a.categories or a.families:
        targets = [sku for sku in priced if sku in info
                   and (not a.products or sku in a.products)
                   and (not a.categories or info[sku][0] in a.categories)
                   and (not a.families or info[sku][1] in a.families)]
        if not targets:
            return "no SKU priced by this pricebook's chain matches its applies_to"
    if rule.when is not None:
        return _contradiction(rule.when.symbolic)
    return None


def _contradiction(condition: sympy.Basic) -> str | None:
    """Why a condition can never hold (false, contradictory bounds or texts), or None."""
    if condition is sympy.false:
        return "its condition is always false"
    parts = condition.args if isinstance(condition, sympy.And) else (condition,)
    texts: dict[sympy.Symbol, set[str]] = {}
    bounds: dict[sympy.Symbol, list[sympy.Basic]] = {}
    for part in parts:
        if isinstance(part, sympy.Eq):
            lhs, rhs = part.args
            text = next((x for x in (lhs, rhs) if isinstance(x, sympy.Symbol) and x.name.startswith("'")), None)
            field = next((x for x in (lhs, rhs) if x is not text and isinstance(x, sympy.Symbol)), None)
            if text is not None and field is not None:
                texts.setdefault(field, set()).add(text.name[1:-1])
                continue
        if isinstance(part, sympy.core.relational.Relational) and not part.atoms(Subtotal):
            free = [s for s in part.free_symbols if not s.name.startswith("'")]
            if len(free) == 1:
                bounds.setdefault(free[0], []).append(part)
    for field, values in texts.items():
        if len(values) > 1:
            return f"{field} cannot equal both {' and '.join(sorted(repr(v) for v in values))}"
    for symbol, relations in bounds.items():
        if len(relations) < 2:
            continue
        try:
            region = sympy.And(*relations).as_set()
        except (NotImplementedError, TypeError, ValueError):
            continue
        if region is sympy.S.EmptySet:
            return f"the bounds on {symbol} contradict each other"
    return None


def _coverage_findings(book: Pricebook, sold: set[str]) -> list[Finding]:
    """A list book prices every sold SKU on every day of its own dates."""
    out = []
    for sku in sorted(sold):
        entries = book.prices.get(sku)
        if not entries:
            out.append((book.source, book.id, f"list book has no price for '{sku}'"))
            continue
        hole = _first_uncovered_day(book.effective, [e.effective for e in entries])
        if hole is not None:
            out.append((entries[0].source, book.id, f"'{sku}' has no price on {hole.isoformat()}"))
    return out


def _first_uncovered_day(span: Effective, pieces: list[Effective]) -> date | None:
    day = span.start or date.min
    end = span.end or date.max
    for piece in sorted(pieces, key=lambda p: p.start or date.min):
        if (piece.start or date.min) > day:
            return day
        if piece.end is None or piece.end >= end:
            return None
        day = max(day, piece.end + timedelta(days=1))
    return day if day <= end else None
