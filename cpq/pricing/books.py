"""Immutable pricebook types as read from pricebook files (the engine that uses them is pricing).

The types a large book has by the hundred thousand have slots: no dict per price entry or rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cpq.catalog import Expression, Source

ROUNDING_MODES = ("half_up", "half_even")
ROUNDING_LEVELS = ("line", "total")
CHARGES = ("one_time", "monthly", "annual")
TIER_MODES = ("volume", "graduated", "block")
TIER_SCOPES = ("line", "product", "category")
STACKING = ("compound", "additive", "best", "exclusive")
ADJUSTMENT_KINDS = ("discount", "amount_off", "markup", "price")


@dataclass(frozen=True, slots=True)
class Effective:
    """A date range; `to` is inclusive, None means open-ended."""

    start: date | None = None
    end: date | None = None

    def covers(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def overlaps(self, other: Effective) -> bool:
        lo = max(self.start or date.min, other.start or date.min)
        hi = min(self.end or date.max, other.end or date.max)
        return lo <= hi


@dataclass(frozen=True, slots=True)
class Band:
    """One tier band: quantities `first`..`last` (None = no upper bound)."""

    first: int
    last: int | None
    unit: Decimal | None
    flat: Decimal | None
    source: Source


@dataclass(frozen=True, slots=True)
class Tiers:
    mode: str
    scope: str
    bands: tuple[Band, ...]
    overage_unit: Decimal | None = None
    overage_per: int = 1


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """The price of one SKU in one book for one date range: a unit price, tiers or a formula."""

    sku: str
    effective: Effective
    charge: str
    term_months: int | None
    unit: Decimal | None
    tiers: Tiers | None
    formula: Expression | None
    cost: Decimal | None
    source: Source


@dataclass(frozen=True, slots=True)
class AppliesTo:
    """The index keys of a rule: it is a candidate only for these products/categories/accounts."""

    products: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A price adjustment rule: discount %, amount off, markup % or price override."""

    id: str
    kind: str
    value: Decimal
    applies_to: AppliesTo
    when: Expression | None
    priority: int
    stack: str | None
    label: str
    effective: Effective
    source: Source


@dataclass(frozen=True, slots=True)
class Floor:
    """A minimum net unit price or a maximum total discount that always wins over discounts."""

    id: str
    applies_to: AppliesTo
    when: Expression | None
    min_price: Decimal | None
    max_discount: Decimal | None
    source: Source


@dataclass(frozen=True)
class TaxPolicy:
    rates: Mapping[str, Decimal]
    default: str | None
    by_category: Mapping[str, str]


@dataclass(frozen=True)
class Pricebook:
    id: str
    name: str
    currency: str
    extends: str | None
    channel: str | None
    account: str | None
    partner: str | None
    rounding_mode: str
    rounding_level: str
    effective: Effective
    prices: Mapping[str, tuple[PriceEntry, ...]]
    adjustments: tuple[Adjustment, ...]
    floors: tuple[Floor, ...]
    tax: TaxPolicy | None
    source: Source
