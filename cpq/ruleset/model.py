"""The loaded, immutable Ruleset: catalog, constraints, pricebooks and policies under one version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from cpq.catalog import Expression, Option, Product, Source
from cpq.pricing.books import Pricebook


@dataclass(frozen=True)
class ApprovalPolicy:
    """When `when` holds for a quote, a person with role `requires` must approve it."""

    id: str
    when: Expression
    requires: str
    message: str
    source: Source


@dataclass(frozen=True)
class RuleFile:
    path: str
    sha256: str
    kind: str


@dataclass(frozen=True)
class Ruleset:
    """Everything the rule and pricebook files say, frozen; `version` is their content hash."""

    version: str
    files: tuple[RuleFile, ...]
    products: Mapping[str, Product]
    options: Mapping[str, Option]
    attribute_types: Mapping[str, Mapping[str, str]]
    pricebooks: Mapping[str, Pricebook]
    approval_policies: tuple[ApprovalPolicy, ...]
    discount_limits: Mapping[str, Decimal]

    @property
    def short_version(self) -> str:
        return self.version[:12]

    def summary(self) -> dict[str, int]:
        products = self.products.values()
        return {
            "products": len(self.products),
            "options": len(self.options),
            "constraints": sum(len(p.constraints) for p in products),
            "prices": sum(len(e) for b in self.pricebooks.values() for e in b.prices.values()),
            "rules": sum(len(p.rules) for p in products)
            + sum(len(b.adjustments) + len(b.floors) for b in self.pricebooks.values())
            + len(self.approval_policies),
        }

    def summary_line(self) -> str:
        s = self.summary()
        return (
            f"{s['products']} products, {s['options']} options, {s['constraints']} constraints, "
            f"{s['prices']} prices, {s['rules']} rules — version {self.short_version}"
        )
