"""Immutable domain types for the product catalog: products, features, options, constraints, rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

AttributeValue = int | Decimal | str | bool
ATTRIBUTE_TYPES = ("integer", "decimal", "string", "boolean")


def frozen_map(items=()) -> Mapping:
    """A read-only mapping, so that a shared Ruleset cannot be changed by a caller."""
    return MappingProxyType(dict(items))


@dataclass(frozen=True)
class Source:
    """Where something was written: file, line and column (1-based)."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, AST and sympy form (names as sympy symbols)."""

    text: str
    ast: object = field(compare=False, repr=False)
    symbolic: object = field(compare=False, repr=False)
    source: Source = field(compare=False)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class QuantityRange:
    """How many units of an option one configuration may hold."""

    min: int = 1
    max: int = 1
    default: int = 1


@dataclass(frozen=True)
class Option:
    """A selectable SKU with typed attributes."""

    id: str
    name: str
    family: str
    category: str
    attributes: Mapping[str, AttributeValue]
    quantity: QuantityRange
    source: Source


@dataclass(frozen=True)
class Feature:
    """An option group of a product; `min`/`max` bound how many of its options are chosen."""

    id: str
    label: str
    min: int
    max: int
    options: tuple[str, ...]
    default: tuple[str, ...]
    quantity: bool
    source: Source


@dataclass(frozen=True)
class Component:
    """A nested product inside a bundle, with how many of it the bundle holds."""

    id: str
    product: str
    min: int
    max: int
    default: int
    source: Source


@dataclass(frozen=True)
class Constraint:
    """A hard configuration constraint.

    `kind` is one of requires, excludes, table, check, cardinality, conditional; the fields
    used depend on the kind. `formula` is the whole constraint as one sympy boolean over
    selection symbols `sel(OPT)` and quantity symbols `qty(OPT)` (see ruleset.scopes).
    """

    id: str
    kind: str
    message: str
    source: Source
    when: Expression | None = None
    if_all: tuple[str, ...] = ()
    then_any: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    allowed: bool = True
    check: Expression | None = None
    min: int | None = None
    max: int | None = None
    formula: object = field(default=None, compare=False, repr=False)


RULE_KINDS = ("validation", "alert", "selection", "filter")


@dataclass(frozen=True)
class ProductRule:
    """A product rule: validation (hard), alert (soft), selection (add/default), filter (hide)."""

    id: str
    kind: str
    message: str
    source: Source
    when: Expression | None = None
    check: Expression | None = None
    add: tuple[str, ...] = ()
    set_default: Mapping[str, str] = field(default_factory=frozen_map)
    hide: tuple[str, ...] = ()


@dataclass(frozen=True)
class Product:
    """A configurable product or bundle."""

    id: str
    name: str
    family: str
    category: str
    attributes: Mapping[str, AttributeValue]
    features: tuple[Feature, ...]
    components: tuple[Component, ...]
    constraints: tuple[Constraint, ...]
    rules: tuple[ProductRule, ...]
    source: Source

    def feature(self, feature_id: str) -> Feature:
        return next(f for f in self.features if f.id == feature_id)

    @property
    def option_ids(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for f in self.features:
            seen.update(dict.fromkeys(f.options))
        return tuple(seen)
