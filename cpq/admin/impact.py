"""The effect of a candidate rule set on saved quotes: each re-validated and re-priced under both sets.

The delta of a quote is its grand total under the candidate minus its grand total under the set it
is compared against, both priced today for the same lines, account and role — so it shows what the
rule change does, not what the calendar did since the quote was saved. Totals are summed per currency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from cpq.accounts import Account
from cpq.errors import CPQError
from cpq.quotes.revision import QuoteTerms, price_revision
from cpq.ruleset.model import Ruleset


@dataclass(frozen=True)
class Repriced:
    """A quote priced under one set: its grand total, or the errors that make it invalid there."""

    total: Decimal | None
    errors: tuple[dict, ...] = ()

    @property
    def valid(self) -> bool:
        return self.total is not None


def reprice(ruleset: Ruleset, terms: QuoteTerms, lines: Sequence[Mapping], account: Account, role: str,
            today: date) -> Repriced:
    """Validate and price the lines as a quote save would."""
    try:
        priced = price_revision(ruleset, terms, lines, account, role, today)
    except CPQError as exc:
        errors = exc.extra.get("errors") or [{"code": exc.code, "message": exc.detail}]
        if isinstance(errors, Mapping):
            errors = [{"field": k, "message": "; ".join(map(str, v)) if isinstance(v, list) else str(v)}
                      for k, v in errors.items()]
        return Repriced(None, tuple({"code": exc.code, **e} if isinstance(e, Mapping) else {"code": exc.code,
                                                                                            "message": str(e)}
                                    for e in errors))
    return Repriced(Decimal(priced["totals"]["grand_total"]))


@dataclass(frozen=True)
class QuoteImpact:
    number: str
    revision: int
    state: str
    currency: str
    stored_total: str  # as saved with the quote
    before: Repriced  # under the set compared against
    after: Repriced  # under the candidate

    @classmethod
    def of(cls, number, revision, state, currency, stored_total, before, after) -> QuoteImpact:
        return cls(number, revision, state, currency, stored_total, before, after)

    @property
    def delta(self) -> Decimal | None:
        if self.before.valid and self.after.valid:
            return self.after.total - self.before.total
        return None

    @property
    def becomes_invalid(self) -> bool:
        return self.before.valid and not self.after.valid

    @property
    def changed(self) -> bool:
        return self.becomes_invalid or self.before.valid != self.after.valid or (self.delta or 0) != 0

    def as_dict(self) -> dict:
        return {"number": self.number, "revision": self.revision, "state": self.state, "currency": self.currency,
                "stored_total": self.stored_total,
                "total_before": None if self.before.total is None else str(self.before.total),
                "total_after": None if self.after.total is None else str(self.after.total),
                "delta": None if self.delta is None else str(self.delta),
                "valid_before": self.before.valid, "valid_after": self.after.valid,
                "becomes_invalid": self.becomes_invalid, "errors_after": list(self.after.errors)}


@dataclass
class ImpactReport:
    quotes: list[QuoteImpact] = field(default_factory=list)

    @property
    def affected(self) -> list[QuoteImpact]:
        return [q for q in self.quotes if q.changed]

    @property
    def invalid(self) -> list[QuoteImpact]:
        return [q for q in self.quotes if q.becomes_invalid]

    def total_delta(self) -> dict[str, str]:
        """Sum of the deltas per currency (quotes that become invalid are counted apart)."""
        sums: dict[str, Decimal] = {}
        for q in self.quotes:
            if q.delta is not None:
                sums[q.currency] = sums.get(q.currency, Decimal(0)) + q.delta
        return {cur: str(total) for cur, total in sorted(sums.items())}

    def as_dict(self) -> dict:
        return {"checked": len(self.quotes), "affected": [q.as_dict() for q in self.affected],
                "becoming_invalid": [q.number for q in self.invalid], "total_delta": self.total_delta()}
