"""The semantic difference between two Rulesets: prices, products, options, constraints and rules.

Definitions are compared by meaning, not by place: sources (file:line) are left out, expressions are
compared by their text, so moving a rule within a file is no change and editing a price is one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from cpq.catalog import Expression
from cpq.pricing.books import PriceEntry
from cpq.ruleset.model import Ruleset

_SKIPPED = {"source", "ast", "symbolic"}


def fingerprint(value):
    """A plain, comparable form of a definition without its place in the files."""
    if isinstance(value, Expression):
        return value.text
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return tuple((f.name, fingerprint(getattr(value, f.name))) for f in dataclasses.fields(value)
                     if f.name not in _SKIPPED)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), fingerprint(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | frozenset | set):
        items = [fingerprint(v) for v in value]
        return tuple(sorted(items, key=repr)) if isinstance(value, frozenset | set) else tuple(items)
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral() else str(value)
    return value


def describe_price(entries: tuple[PriceEntry, ...]) -> str:
    """A price as a person reads it in a diff: `1200.00`, `tiers (3 bands)`, `formula a * 2`; periods joined."""
    parts = []
    for e in entries:
        if e.formula is not None:
            text = f"formula {e.formula.text}"
        elif e.tiers is not None:
            text = f"{e.tiers.mode} tiers ({len(e.tiers.bands)} bands)"
        else:
            text = str(e.unit)
        if e.charge != "one_time":
            text += f" {e.charge}"
        if e.effective.start or e.effective.end:
            text += f" [{e.effective.start or '…'}..{e.effective.end or '…'}]"
        parts.append(text)
    return "; ".join(parts) if parts else "-"


@dataclass(frozen=True)
class PriceChange:
    book: str
    sku: str
    old: str  # "-" when the price is new
    new: str  # "-" when the price was removed

    def as_dict(self) -> dict:
        return {"book": self.book, "sku": self.sku, "old": self.old, "new": self.new}


@dataclass
class Changes:
    """Ids added, removed and changed, for one kind of definition."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def as_dict(self) -> dict:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}


@dataclass
class RulesetDiff:
    old_version: str | None
    new_version: str
    prices: list[PriceChange]
    kinds: dict[str, Changes]  # products, options, constraints, product_rules, adjustments, floors, …

    @property
    def empty(self) -> bool:
        return not self.prices and not any(self.kinds.values())

    def as_dict(self) -> dict:
        return {"old_version": self.old_version, "new_version": self.new_version,
                "prices": [p.as_dict() for p in self.prices],
                **{kind: changes.as_dict() for kind, changes in self.kinds.items()}}

    def summary(self) -> dict:
        """Counts for the audit trail: what a publication changed, in a line."""
        out = {"old_version": self.old_version, "new_version": self.new_version, "prices_changed": len(self.prices)}
        for kind, changes in self.kinds.items():
            for what in ("added", "removed", "changed"):
                if getattr(changes, what):
                    out[f"{kind}_{what}"] = len(getattr(changes, what))
        return out

    def lines(self) -> list[str]:
        """The diff for a terminal."""
        out = [f"{p.book} {p.sku}: {p.old} → {p.new}" for p in self.prices]
        for kind, changes in self.kinds.items():
            for what, sign in (("added", "+"), ("removed", "-"), ("changed", "~")):
                out += [f"{sign} {kind[:-1] if kind.endswith('s') else kind} {i}" for i in getattr(changes, what)]
        return out


def _compare(old: Mapping[str, object], new: Mapping[str, object]) -> Changes:
    return Changes(added=sorted(set(new) - set(old)), removed=sorted(set(old) - set(new)),
                   changed=sorted(k for k in set(old) & set(new) if fingerprint(old[k]) != fingerprint(new[k])))


def _definitions(ruleset: Ruleset | None) -> dict[str, dict[str, object]]:
    if ruleset is None:
        return {k: {} for k in ("products", "options", "constraints", "product_rules", "pricebooks", "adjustments",
                                "floors", "approval_policies", "discount_limits")}
    products = ruleset.products.values()
    books = ruleset.pricebooks.values()
    return {
        # a product's own fields; its constraints and rules are compared one by one below
        "products": {p.id: dataclasses.replace(p, constraints=(), rules=()) for p in products},
        "options": dict(ruleset.options),
        "constraints": {f"{p.id}/{c.id}": c for p in products for c in p.constraints},
        "product_rules": {f"{p.id}/{r.id}": r for p in products for r in p.rules},
        "pricebooks": {b.id: dataclasses.replace(b, prices={}, adjustments=(), floors=()) for b in books},
        "adjustments": {f"{b.id}/{a.id}": a for b in books for a in b.adjustments},
        "floors": {f"{b.id}/{f.id}": f for b in books for f in b.floors},
        "approval_policies": {a.id: a for a in ruleset.approval_policies},
        "discount_limits": dict(ruleset.discount_limits),
    }


def diff_rulesets(old: Ruleset | None, new: Ruleset) -> RulesetDiff:
    """What changes when `new` replaces `old` (None: nothing was active)."""
    prices = []
    old_books = old.pricebooks if old else {}
    for book_id in sorted(set(old_books) | set(new.pricebooks)):
        before = old_books[book_id].prices if book_id in old_books else {}
        after = new.pricebooks[book_id].prices if book_id in new.pricebooks else {}
        for sku in sorted(set(before) | set(after)):
            a, b = before.get(sku, ()), after.get(sku, ())
            if fingerprint(a) != fingerprint(b):
                prices.append(PriceChange(book_id, sku, describe_price(a), describe_price(b)))
    old_defs, new_defs = _definitions(old), _definitions(new)
    kinds = {kind: _compare(old_defs[kind], new_defs[kind]) for kind in new_defs}
    return RulesetDiff(old.version if old else None, new.version, prices, kinds)
