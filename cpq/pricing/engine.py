"""price_quote: configured bundle lines → priced lines with a waterfall, totals, tax and approvals.

The pipeline for each priced item (a bundle's product, each selected option, each component):

    list → tier → contract → rule adjustments → manual → floor → rounding → net

1. The chain of books is resolved (resolve.py); each SKU finds its entry and its list entry.
2. Base amounts: list price (first tier band's unit price for tiered entries), the tier table, the
   contracted/partner entry. Formulas that read subtotal() or quote totals are evaluated after
   every other line has its base amount (they see those base amounts, never their own).
3. Rule adjustments by ascending priority with explicit stacking; quote-level conditions are
   judged once per quote by durable_rules, line-level ones per line by compiled closures.
4. Manual discounts (line, then quote), checked against the role's discount limit.
5. Floors (minimum unit price / maximum discount off list) win over every discount.
6. Rounding to the currency's minor unit, per line or per total (the book's policy).

All amounts are exact Decimal (an inexact operation raises) until `round_amount`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import NamedTuple

from cpq.catalog import Product
from cpq.pricing.books import Pricebook, PriceEntry
from cpq.pricing.errors import FormulaError, InvalidQuote, PriceNotFound, UnknownSku
from cpq.pricing.money import (
    CARRY_QUANTUM,
    EXACT,
    QUANTIZE,
    carry,
    minor_units,
    rounder,
    to_decimal,
)
from cpq.pricing.program import (
    AMOUNT_OFF,
    GROUP,
    HOLDS,
    MULTIPLY,
    ChainIndex,
    CompiledRule,
    ItemPlan,
    PricingProgram,
    pricing_program,
)
from cpq.pricing.request import PricingContext, QuoteLine, QuoteRequest
from cpq.pricing.resolve import BookChain, PriceSource, resolve_chain
from cpq.pricing.tiers import QuantityBeyondTiers, tier_share
from cpq.ruleset.expressions import did_you_mean
from cpq.ruleset.memory import collector_paused
from cpq.ruleset.model import Ruleset
from cpq.ruleset.scopes import CONTEXT_FIELDS

ZERO = Decimal(0)
ONE = Decimal(1)
STEP_KINDS = ("list", "tier", "contract", "adjustment", "manual", "floor", "rounding")


# --------------------------------------------------------------------------- results


class PriceStep(NamedTuple):
    """One step of a line's price waterfall: what changed the amount, from what to what, and why.

    What made the step is one shared `origin` (label, rule id, source) per rule, price entry or
    policy, built once, instead of three fields filled in per step (a large quote has ~10,000).
    """

    kind: str  # one of STEP_KINDS
    origin: tuple[str, str | None, str | None]  # (label, rule id, source): see the properties
    before: Decimal | None  # None for the first (list) step
    after: Decimal
    note: str = ""

    @property
    def label(self) -> str:
        return self.origin[0]

    @property
    def rule_id(self) -> str | None:
        """The rule, book or policy that made the step."""
        return self.origin[1]

    @property
    def source(self) -> str | None:
        """file:line:col of that rule or price."""
        return self.origin[2]


# PriceStep(*fields), all in C: the NamedTuple constructor is a Python function (~10,000 steps per quote)
_new_step = functools.partial(tuple.__new__, PriceStep)


@dataclass(slots=True)
class PricedItem:
    """A priced SKU of a bundle line: the product itself, a selected option or a component."""

    sku: str
    name: str
    role: str  # product | option | component
    category: str
    family: str
    units_per_bundle: int
    bundles: int
    quantity: int  # units_per_bundle × bundles
    line: QuoteLine
    plan: ItemPlan | None = None  # its price entry, names and candidate rules in this quote's chain
    source: PriceSource | None = None
    charge: str = "one_time"
    cost: Decimal | None = None
    term_months: int | None = None
    list_amount: Decimal = ZERO
    base: Decimal = ZERO  # after list, tier and contract steps
    net: Decimal = ZERO  # per charge period (one-time, per month or per year)
    total: Decimal = ZERO  # net over the term: net × months (monthly) or net × months/12 (annual)
    steps: list[PriceStep] = field(default_factory=list)
    env: _LineEnv | None = None
    periods: Fraction | int = 1  # charge periods over the term; 1 (an int: compared per item) for one-time
    bundle: list[PricedItem] | None = None  # the items a formula's subtotal() sums (its own bundle)

    @property
    def book(self) -> str:
        return self.source.book.id if self.source else ""

    @property
    def yearly_factor(self) -> int:
        return 12 if self.charge == "monthly" else 1


@dataclass(frozen=True, slots=True)
class Approval:
    """Who must approve and why: a policy that fired, or a manual discount above a role's limit."""

    kind: str  # policy | discount_limit
    role: str
    reason: str
    rule_id: str | None = None
    source: str | None = None
    line: str | None = None


@dataclass(slots=True)
class PricedLine:
    """A bundle line of the quote with its priced items grouped under it."""

    id: str
    product: str
    name: str
    quantity: int
    group: str
    items: list[PricedItem]
    manual_discount: Decimal | None
    approval: Approval | None = None
    one_time: Decimal = ZERO
    monthly: Decimal = ZERO
    annual: Decimal = ZERO
    total: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class TaxLine:
    rate: str
    percent: Decimal
    base: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class Totals:
    """Quote totals; every amount is rounded to the currency's minor unit by the book's mode."""

    list: Decimal
    one_time: Decimal
    monthly: Decimal  # sum of monthly charges (per month)
    annual: Decimal  # sum of annual charges (per year)
    mrr: Decimal  # monthly + annual / 12
    arr: Decimal  # monthly × 12 + annual
    net: Decimal  # total contract value before tax: one-time + every recurring charge over its term
    by_group: Mapping[str, Decimal]
    tax: tuple[TaxLine, ...]
    tax_total: Decimal
    grand_total: Decimal
    discount_percent: Decimal  # (list − net) / list, a fraction
    margin_percent: Decimal | None  # (net − cost) / net over lines with a known cost


@dataclass(slots=True)
class PricedQuote:
    """The answer of price_quote: lines with waterfalls, totals, approvals, and what priced them."""

    currency: str
    on: date
    ruleset_version: str
    pricebooks: tuple[str, ...]
    pricebook_reason: str
    rounding_mode: str
    rounding_level: str
    term_months: int
    lines: list[PricedLine]
    totals: Totals
    approvals: list[Approval]


# --------------------------------------------------------------------------- environments


class _QuoteEnv(dict):
    """Values of quote-level names (account.*, context.*, quote.*) plus subtotal() for one quote."""

    def __init__(self, pricer: _Pricer, values: dict):
        super().__init__(values)
        self.pricer = pricer

    def subtotal(self, key: int) -> Fraction:
        return self.pricer.subtotal(key)

    def __missing__(self, name: str):
        raise FormulaError(f"'{name}' has no value while pricing this quote", name=name)


class _LineEnv(dict):
    """Values of line.* names for one item; anything else comes from the quote environment."""

    __slots__ = ("item", "quote")  # one per priced item: no per-instance __dict__

    @classmethod
    def of(cls, item: PricedItem, quote: _QuoteEnv) -> _LineEnv:
        env = cls()  # filled item by item: a third of the cost of a constructor passing a dict
        env["line.product"] = item.sku
        env["line.category"] = item.category
        env["line.family"] = item.family
        env["line.charge"] = item.charge
        env["line.quantity"] = item.quantity
        env.item = item
        env.quote = quote
        return env

    def subtotal(self, key: int) -> Fraction:
        return self.quote.pricer.subtotal(key)

    def __missing__(self, name: str):
        item = self.item
        if name == "line.list_price":
            return Fraction(item.list_amount) / item.quantity
        if name == "line.unit_price":
            return Fraction(item.base) / item.quantity
        if name == "line.discount_percent":
            return Fraction(item.list_amount - item.base) / item.list_amount if item.list_amount else Fraction(0)
        return self.quote[name]


class _FormulaEnv(dict):
    """Names a price formula reads for one item: qty per bundle, cost, bundle.* sums, then the quote."""

    def __init__(self, item: PricedItem, quote: _QuoteEnv, cost: Decimal | None, list_unit: Decimal | None):
        self.item = item
        super().__init__({
            "line.product": item.sku, "line.category": item.category, "line.family": item.family,
            "line.charge": item.charge, "line.quantity": item.units_per_bundle,
            "line.cost": Fraction(cost) if cost is not None else Fraction(0),
            "line.list_price": Fraction(list_unit) if list_unit is not None else Fraction(0),
            "line.unit_price": Fraction(list_unit) if list_unit is not None else Fraction(0),
            "line.discount_percent": Fraction(0),
        })
        self.quote = quote

    def subtotal(self, key: int) -> Fraction:
        return self.quote.pricer.bundle_subtotal(key, self.item)

    def __missing__(self, name: str):
        if name.startswith("bundle."):
            return self.quote.pricer.bundle_attributes(self.item).get(name[7:], 0)
        return self.quote[name]


# --------------------------------------------------------------------------- entry point


def price_quote(ruleset: Ruleset, request: QuoteRequest, context: PricingContext) -> PricedQuote:
    """Price a quote request against a Ruleset (pure: no I/O, no clock; the date is in `context`)."""
    program = pricing_program(ruleset)
    with localcontext(EXACT), collector_paused():  # a large quote allocates ~100,000 objects
        pricer = _Pricer(program, request, context)
        try:
            return pricer.run()
        finally:
            pricer.release()


class _Pricer:
    """The state of pricing one quote; every step of the pipeline is one method."""

    def __init__(self, program: PricingProgram, request: QuoteRequest, context: PricingContext):
        self.program = program
        self.request = request
        self.context = context
        self.on = context.on
        self.stage = "rules"  # which amounts subtotal() in conditions sums: rules (base) | net
        self._subtotals: dict[tuple, Fraction] = {}
        self.waiting: set[int] = set()  # ids of the items whose formula waits for the others' base amounts
        self._longest_term = 0  # the longest term in months of a recurring item, from the request's lines
        self._bundle_attributes: dict[int, dict[str, int | Fraction]] = {}  # id(item.bundle) → bundle.<attr>
        self._in_effect: dict[int, bool] = {}
        self._rounding_note: tuple[str, str] | None = None
        self._starts: dict[tuple[int, tuple[str, str]], int] | None = None  # tier positions, when a tier needs them

    # ------------------------------------------------------------------ pipeline
    def run(self) -> PricedQuote:
        program, request, ctx = self.program, self.request, self.context
        self.chain: BookChain = resolve_chain(program.pricebooks, request.currency, self.on, ctx.account,
                                              ctx.context, request.pricebook)
        self.currency = self.chain.currency
        self.mode, self.level = self.chain.rounding_mode, self.chain.rounding_level
        self.round = rounder(self.currency, self.mode)  # round_amount in the book's currency and mode
        self.per_line = self.level == "line"
        self.index: ChainIndex = program.chain_index(self.chain.ids)
        self.account, self.parent = ctx.account.get("id"), ctx.account.get("parent")
        self.lines = [self._expand(line) for line in request.lines]
        self.items = [item for line in self.lines for item in line.items]
        self.term_months = request.term_months or self._longest_term
        self.quote_env = quote_env = _QuoteEnv(self, self._quote_values())
        line_env, base, waiting = _LineEnv.of, self._base, self.waiting
        for item in self.items:
            item.env = line_env(item, quote_env)
            if item.plan.waits:  # a formula reading subtotal() or quote totals: after every other base amount
                waiting.add(id(item))
            else:
                base(item)
        if waiting:
            self._set_totals([i for i in self.items if id(i) not in waiting], net=False)
            for item in self.items:
                if id(item) in waiting:
                    base(item)
        self._set_totals(self.items, net=False)
        fired = self._quote_level_rules()
        # rules for every line whose quote-level condition holds for this quote, grouped by priority
        wide: dict[int, list[CompiledRule]] = {}
        wide_floors = []
        for r in self.index.quote_wide:
            if r.id in fired:
                (wide_floors if r.kind == "floor" else wide.setdefault(r.priority, [])).append(r)
        self.quote_wide = tuple(sorted((p, tuple(rs)) for p, rs in wide.items()))
        self.quote_wide_key = tuple(r.id for _, rs in self.quote_wide for r in rs)
        self.quote_wide_floors = tuple(wide_floors)
        adjust, manual, floor, finish = self._adjust, self._manual, self._floor, self._finish
        wide, wide_key, ops_of = self.quote_wide, self.quote_wide_key, self.index.adjustments
        quote_discount = self.request.discount
        for line in self.lines:
            manual_discount = line.manual_discount or quote_discount
            for item in line.items:
                plan = item.plan
                amount = adjust(item, ops_of(plan, wide, wide_key), fired)
                if manual_discount:
                    amount = manual(item, line, amount)
                finish(item, floor(item, plan.candidates.floors, amount, fired))
        self.stage = "net"
        totals = self._totals()
        approvals = self._discount_approvals() + self._policy_approvals(totals)
        return PricedQuote(
            currency=self.currency, on=self.on, ruleset_version=program.version, pricebooks=self.chain.ids,
            pricebook_reason=self.chain.reason, rounding_mode=self.mode, rounding_level=self.level,
            term_months=self.term_months, lines=self.lines, totals=totals, approvals=approvals,
        )

    def release(self) -> None:
        """Break the item ↔ environment ↔ pricer and item ↔ bundle cycles once the quote is priced.

        Left in place they made every priced quote cyclic garbage: nothing of it was freed when the
        caller dropped it, and the next middle-generation collection walked ten quotes' worth of
        items (0.4–0.9 s of CPU in the bench, inside whichever quote met it).
        """
        for item in getattr(self, "items", ()):
            item.env = None
            item.bundle = None
        self.quote_env = None

    # ------------------------------------------------------------------ lines → items
    def _expand(self, line: QuoteLine) -> PricedLine:
        products = self.program.products
        product = products.get(line.product)
        if product is None:
            if line.product in self.program.options:
                raise UnknownSku(f"line {line.id}: '{line.product}' is an option; choose it in one of its products",
                                 line=line.id, product=line.product)
            hint = did_you_mean(line.product, products)
            raise UnknownSku(f"line {line.id}: unknown product '{line.product}'"
                             + (f" (did you mean {hint}?)" if hint else ""), line=line.id, product=line.product)
        items = self._bundle(line, product, line.options, line.quantity, "product", "")
        for item in items:
            item.bundle = items  # the bundle's own formulas (support) see its components too
        for comp in line.components:
            spec = next((c for c in product.components if c.id == comp.id), None)
            if spec is None:
                hint = did_you_mean(comp.id, [c.id for c in product.components])
                raise UnknownSku(f"line {line.id}: product '{product.id}' has no component '{comp.id}'"
                                 + (f" (did you mean {hint}?)" if hint else ""), line=line.id, component=comp.id)
            nested = self._bundle(line, products[spec.product], comp.options, line.quantity * comp.quantity,
                                  "component", f"{comp.id}: ")
            for item in nested:
                item.bundle = nested
            items += nested
        name, _, _ = self.program.sku_info[product.id]
        # positional (id, product, name, quantity, group, items, manual_discount): cheaper than keywords
        return PricedLine(line.id, product.id, name, line.quantity, line.group or line.id, items, line.discount)

    def _bundle(self, line: QuoteLine, product: Product, options, bundles: int, role: str, prefix: str) -> list[PricedItem]:
        """The priced items of one bundle: its product (or component), then each selected option."""
        allowed = self.program.allowed_options[product.id]
        wanted = [(product.id, role, 1)]
        for choice in options:
            sku = choice.id
            if sku not in allowed:
                hint = did_you_mean(sku, allowed)
                raise UnknownSku(f"line {line.id}: '{sku}' is not an option of '{product.id}'"
                                 + (f" (did you mean {hint}?)" if hint else ""), line=line.id, option=sku)
            wanted.append((sku, "option", choice.quantity))
        if len(options) > 1:  # a line with one option (the common case) cannot list one twice
            seen: set[str] = set()
            for choice in options:
                if choice.id in seen:
                    message = f"line {line.id}: option '{choice.id}' is listed twice"
                    raise InvalidQuote(message, errors={"lines": [message]})
                seen.add(choice.id)
        plan_of, chain, on, account, parent = self.index.plan, self.chain, self.on, self.account, self.parent
        out = []
        for sku, item_role, per_bundle in wanted:
            plan = plan_of(chain, sku, on, account, parent)  # PriceNotFound here
            source = plan.source
            entry = source.entry
            charge = entry.charge
            # positional, in PricedItem's field order (sku, name, role, category, family, units_per_bundle,
            # bundles, quantity, line, plan, source, charge, cost): a keyword call costs more, 2,000
            # times a quote
            item = PricedItem(sku, prefix + plan.name, item_role, plan.category, plan.family, per_bundle, bundles,
                              per_bundle * bundles, line, plan, source, charge,
                              entry.cost if entry.cost is not None else source.list_entry.cost)
            if charge != "one_time":
                item.term_months = months = line.term_months or self.request.term_months or entry.term_months or 12
                item.periods = Fraction(months) if charge == "monthly" else Fraction(months, 12)
                self._longest_term = max(self._longest_term, months)
            out.append(item)
        return out

    # ------------------------------------------------------------------ quote facts
    def _quote_values(self) -> dict:
        ctx = self.context
        values: dict[str, object] = {}
        for group, given in (("account", ctx.account), ("context", ctx.context)):
            for name in CONTEXT_FIELDS[group]:
                values[f"{group}.{name}"] = given.get(name) or ""
        values.update({
            "quote.currency": self.currency, "quote.line_count": len(self.lines),
            "quote.term_months": self.term_months, "quote.total": 0, "quote.list_total": 0,
            "quote.discount_percent": 0, "quote.margin_percent": 0,
        })
        return values

    def _set_totals(self, items: list[PricedItem], net: bool) -> dict[str, Fraction]:
        """quote.total, list_total, discount_percent and margin_percent over `items` (exact)."""
        mode = self.mode
        list_total = total = costed_net = cost = ZERO
        has_cost = False
        for i in items:
            if i.periods == 1:  # one-time charges, the common case
                amount = i.net if net else i.base
                list_total += i.list_amount
            else:
                amount = _over_term(i.net if net else i.base, i.periods, mode)
                list_total += _over_term(i.list_amount, i.periods, mode)
            total += amount
            if i.cost is not None:
                has_cost = True
                costed_net += amount
                cost += i.cost * i.quantity if i.periods == 1 else _over_term(i.cost * i.quantity, i.periods, mode)
        self.has_cost = has_cost
        facts = {
            "quote.total": Fraction(total),
            "quote.list_total": Fraction(list_total),
            "quote.discount_percent": Fraction(list_total - total) / Fraction(list_total) if list_total else Fraction(0),
            # with no known cost at all, margin conditions see 100 %
            "quote.margin_percent": Fraction(costed_net - cost) / Fraction(costed_net) if costed_net else Fraction(1),
        }
        self.quote_env.update(facts)
        return facts

    def subtotal(self, key: int) -> Fraction:
        """subtotal(predicate) in conditions: one-time amounts plus the yearly value of recurring ones.

        For rule conditions the amounts are the base amounts (before any adjustment) of every line of
        the quote; for approval policies, net amounts.
        """
        stage = self.stage
        cached = self._subtotals.get((key, stage))
        if cached is not None:
            return cached
        predicate = self.program.registry.predicates[key]
        total = ZERO
        for item in self.items:
            if predicate(item.env):
                total += (item.net if stage == "net" else item.base) * item.yearly_factor
        self._subtotals[(key, stage)] = result = Fraction(total)
        return result

    def bundle_attributes(self, item: PricedItem) -> dict[str, int | Fraction]:
        """bundle.<attr> in a price formula: the numeric attribute summed over the options of the
        item's own bundle, each times its quantity per bundle (worked out once per bundle, when read).
        """
        bundle = item.bundle
        found = self._bundle_attributes.get(id(bundle))
        if found is None:
            numeric = self.program.numeric_attributes
            found = self._bundle_attributes[id(bundle)] = {}
            for other in bundle:  # a product's bundle lists its components' items too: not their options
                if other.role == "option" and other.bundle is bundle:
                    for name, value in numeric[other.sku]:
                        found[name] = found.get(name, 0) + value * other.units_per_bundle
        return found

    def bundle_subtotal(self, key: int, item: PricedItem) -> Fraction:
        """subtotal() inside a price formula: the formula's own bundle, per bundle unit.

        A support option priced at 18 % of the hardware supports the hardware of its own bundle, not
        of every bundle on the quote; the formula is per bundle unit (like `qty`), so the bundle's
        amounts are divided by its bundle count and the result multiplied back.
        """
        cache_key = (key, id(item.bundle), item.bundles)
        cached = self._subtotals.get(cache_key)
        if cached is not None:
            return cached
        predicate = self.program.registry.predicates[key]
        total = Fraction(0)
        for other in item.bundle:
            if id(other) not in self.waiting and predicate(other.env):
                total += Fraction(other.base) * other.yearly_factor
        total /= item.bundles
        self._subtotals[cache_key] = total
        return total

    # ------------------------------------------------------------------ base amounts
    def _tier_positions(self) -> None:
        running: dict[tuple[str, str], int] = {}
        self._starts: dict[tuple[int, tuple[str, str]], int] = {}
        for item in self.items:
            for key in (("product", item.sku), ("category", item.category)):
                start = running.get(key, 0)
                self._starts[(id(item), key)] = start
                running[key] = start + item.quantity
        self._aggregates = running

    def _tiers(self, entry: PriceEntry, item: PricedItem, book: Pricebook):
        tiers = entry.tiers
        if tiers.scope == "line":
            start, aggregate = 0, item.quantity
        else:
            if self._starts is None:
                self._tier_positions()
            key = (tiers.scope, item.sku if tiers.scope == "product" else item.category)
            start, aggregate = self._starts[(id(item), key)], self._aggregates[key]
        try:
            return tier_share(tiers, start, item.quantity, aggregate)
        except QuantityBeyondTiers as exc:
            raise PriceNotFound(
                f"no price for {exc.quantity} units of '{item.sku}': the tier table in '{book.id}' "
                f"({entry.source}) ends at {exc.last}",
                product=item.sku, pricebooks=list(self.chain.ids), date=self.on.isoformat(), currency=self.currency,
            ) from None

    def _formula(self, entry: PriceEntry, item: PricedItem, list_unit: Decimal | None) -> Decimal:
        compiled = self.program.formulas[id(entry)]
        env = _FormulaEnv(item, self.quote_env, item.cost, list_unit)
        try:
            per_bundle = compiled.fn(env)
        except ZeroDivisionError:
            raise FormulaError(f"the price formula of '{item.sku}' ({entry.source}) divides by zero",
                               product=item.sku, formula=entry.formula.text, source=str(entry.source)) from None
        return to_decimal(Fraction(per_bundle), self.mode) * item.bundles

    def _amount(self, entry: PriceEntry, item: PricedItem, book: Pricebook) -> tuple[Decimal, str]:
        if entry.unit is not None:
            return entry.unit * item.quantity, f"{item.quantity} × {entry.unit}"
        if entry.tiers is not None:
            result = self._tiers(entry, item, book)
            return result.amount, result.note
        amount = self._formula(entry, item, None)
        note = f"formula {entry.formula.text}" + (f", × {item.bundles} bundles" if item.bundles != 1 else "")
        return amount, note

    def _base(self, item: PricedItem) -> None:
        """The list, tier and contract steps: the amount that rules adjust."""
        plan = item.plan
        unit = plan.list_unit
        quantity = item.quantity
        if unit is not None:  # a unit list price, the common case
            amount = unit * quantity
            item.steps.append(_new_step(("list", plan.list_origin, None, amount, f"{quantity} × {plan.list_text}")))
            item.list_amount = amount
        else:
            amount = self._list_tiers_or_formula(item)
        if plan.contract is not None:
            unit, text, origin = plan.contract
            if unit is not None:
                contract, note = unit * quantity, f"{quantity} × {text}"
            else:
                contract, note = self._amount(plan.source.entry, item, plan.source.book)
            item.steps.append(_new_step(("contract", origin, amount, contract, note)))
            amount = contract
        item.base = amount

    def _list_tiers_or_formula(self, item: PricedItem) -> Decimal:
        """The list step of a tiered list entry (with its tier step) or of a formula; the amount after."""
        source = item.source
        list_entry, list_book, where = source.list_entry, source.list_book, source.list_where
        tiers = list_entry.tiers
        if tiers is not None and tiers.bands[0].unit is not None:
            first = tiers.bands[0].unit
            amount = first * item.quantity
            item.steps.append(_new_step(("list", item.plan.list_origin, None, amount,
                                         f"{item.quantity} × {first} (first tier band)")))
            result = self._tiers(list_entry, item, list_book)
            item.steps.append(_new_step(("tier", (f"{tiers.mode.capitalize()} tiers", list_book.id, where),
                                         amount, result.amount, result.note)))
            item.list_amount = amount
            return result.amount
        amount, note = self._amount(list_entry, item, list_book)
        item.steps.append(_new_step(("list", item.plan.list_origin, None, amount, note)))
        item.list_amount = amount
        return amount

    # ------------------------------------------------------------------ rules
    def _quote_level_rules(self) -> frozenset[str]:
        """Ids of the chain's quote-level rules whose condition holds, judged once by durable_rules."""
        rules = [r for r in self.index.quote_rules if self._effective(r)]
        if not rules:
            return frozenset()
        import sympy

        values = {sympy.Symbol(name): _engine_value(value) for name, value in self.quote_env.items()}
        for key in {k for r in rules for k in r.when.subtotals}:
            values[self.program.registry.exprs[key]] = _engine_value(self.subtotal(key))
        return frozenset(self.index.quote_program().matching(values))

    def _effective(self, rule: CompiledRule) -> bool:
        if rule.always:
            return True
        known = self._in_effect.get(id(rule))
        if known is None:
            known = self._in_effect[id(rule)] = rule.effective.covers(self.on)
        return known

    def _holds(self, rule: CompiledRule, item: PricedItem, fired: frozenset[str]) -> bool:
        if not (rule.always or self._effective(rule)):
            return False
        when = rule.when
        if when is None:
            return True
        if rule.quote_level:
            return rule.id in fired
        try:
            return bool(when.fn(item.env))
        except ZeroDivisionError:
            raise _divides_by_zero(rule) from None

    @staticmethod
    def _effect(rule: CompiledRule, amount: Decimal, item: PricedItem) -> tuple[Decimal, str]:
        value = rule.rule.value
        kind = rule.kind
        if kind == "discount":
            return amount - amount * value, rule.note
        if kind == "markup":
            return amount + amount * value, rule.note
        if kind == "amount_off":
            return amount - value * item.quantity, f"{rule.note} × {item.quantity}"
        return value * item.quantity, f"{rule.note} × {item.quantity}"

    @staticmethod
    def _step(item: PricedItem, rule: CompiledRule, before: Decimal, after: Decimal, note: str) -> Decimal:
        after = carry(after)
        if after < 0:
            after, note = ZERO, note + " (not below zero)"
        if after == before:
            return before  # a rule that changes nothing (a discount on a free item) is not a step
        item.steps.append(_new_step(("adjustment", rule.origin, before, after, note)))
        return after

    def _line_test(self, rule: CompiledRule, item: PricedItem) -> bool:
        """A line condition of a rule in force every day (`rule.line_test`), judged for one item."""
        try:
            return bool(rule.line_test(item.env))
        except ZeroDivisionError:
            raise _divides_by_zero(rule) from None

    def _adjust(self, item: PricedItem, ops: tuple, fired: frozenset[str]) -> Decimal:
        """The rule adjustments of one item; `ops` are its candidate rules (program.adjustment_ops)."""
        amount = item.base
        steps = item.steps
        env = item.env
        for kind, test, rule, value, note in ops:
            if kind == GROUP:  # several rules at one priority (rule: the priority, value: the rules)
                amount, exclusive = self._group(item, rule, value, amount, fired)
                if exclusive:
                    return amount
                continue
            if test is not None:
                if test is HOLDS:
                    if not self._holds(rule, item, fired):
                        continue
                else:
                    try:
                        if not test(env):
                            continue
                    except ZeroDivisionError:
                        raise _divides_by_zero(rule) from None
            if kind == MULTIPLY:  # a discount or markup: value is 1 − d or 1 + m
                after = amount * value
            else:
                quantity = item.quantity
                after = amount - value * quantity if kind == AMOUNT_OFF else value * quantity
                note = f"{note} × {quantity}"
            after = after.quantize(CARRY_QUANTUM, ROUND_HALF_EVEN, QUANTIZE)  # money.carry, inlined
            if after < 0:
                after, note = ZERO, note + " (not below zero)"
            if after != amount:  # a rule that changes nothing (a discount on a free item) is not a step
                steps.append(_new_step(("adjustment", rule.origin, amount, after, note)))
                amount = after
        return amount

    def _group(self, item: PricedItem, priority: int, rules: tuple, amount: Decimal,
               fired: frozenset[str]) -> tuple[Decimal, bool]:
        """One priority's rules by their stacking; the amount after, and whether an exclusive rule ended it."""
        matched = [r for r in rules if r.unconditional or (
            self._line_test(r, item) if r.line_test is not None else self._holds(r, item, fired))]
        exclusive = next((r for r in matched if r.stack == "exclusive"), None)
        if exclusive is not None:
            after, note = self._effect(exclusive, amount, item)
            others = [r.id for r in matched if r is not exclusive]
            note += f"; exclusive at priority {priority}: later priorities skipped"
            if others:
                note += f", not applied: {', '.join(others)}"
            return self._step(item, exclusive, amount, after, note), True
        additive = [r for r in matched if r.stack == "additive"]
        best = [r for r in matched if r.stack == "best"]
        compound = [r for r in matched if r.stack not in ("additive", "best")]
        if additive:
            start = amount
            for r in additive:
                after, note = self._effect(r, start, item)
                note = f"{note} (additive, on {start})" if len(matched) > 1 else note
                amount = self._step(item, r, amount, amount + (after - start), note)
        if best:
            outcomes = [(self._effect(r, amount, item), r) for r in best]
            (after, note), winner = min(outcomes, key=lambda o: o[0][0])
            if len(best) > 1:
                note += f"; best of {', '.join(r.id for r in best)}"
            amount = self._step(item, winner, amount, after, note)
        for r in compound:
            after, note = self._effect(r, amount, item)
            amount = self._step(item, r, amount, after, note)
        return amount, False

    def _manual(self, item: PricedItem, line: PricedLine, amount: Decimal) -> Decimal:
        """The line's and then the quote's manual discount (called only when there is one)."""
        for discount, label in ((line.manual_discount, "Manual discount"),
                                (self.request.discount, "Manual quote discount")):
            if discount and amount:
                after = carry(amount - amount * discount)
                item.steps.append(_new_step(("manual", (label, None, None), amount, after,
                                             f"{_pct(discount)} by {self.context.role}")))
                amount = after
        return amount

    def _floor(self, item: PricedItem, floors: tuple, amount: Decimal, fired: frozenset[str]) -> Decimal:
        best: tuple[Decimal, CompiledRule] | None = None
        if self.quote_wide_floors:
            floors = (*floors, *self.quote_wide_floors)
        for rule in floors:
            if not rule.unconditional and not (
                    self._line_test(rule, item) if rule.line_test is not None else self._holds(rule, item, fired)):
                continue
            floor = rule.rule
            if floor.min_price is not None:
                limit = floor.min_price * item.quantity
            else:
                limit = item.list_amount - item.list_amount * floor.max_discount
            if best is None or limit > best[0]:
                best = (limit, rule)
        if best is None:
            return amount
        limit, rule = best
        capped = limit > item.base  # a floor limits discounts; it never lifts a price above the contracted one
        if capped:
            limit = item.base
        if amount >= limit:
            return amount  # the floor does not bind: no step, and no note to write
        floor = rule.rule
        note = f"{rule.note} × {item.quantity}" if floor.min_price is not None else f"{rule.note} {item.list_amount}"
        if capped:
            note += ", capped at the price before adjustments"
        item.steps.append(_new_step(("floor", rule.origin, amount, limit, note)))
        return limit

    def _finish(self, item: PricedItem, amount: Decimal) -> None:
        per_line = self.per_line
        if per_line:
            rounded = self.round(amount)
            if rounded != amount:
                if self._rounding_note is None:
                    self._rounding_note = (("Rounding", None, str(self.chain.books[0].source)),
                                           f"{self.mode.replace('_', '-')} to {minor_units(self.currency)} decimals, "
                                           "per line")
                origin, note = self._rounding_note
                item.steps.append(_new_step(("rounding", origin, amount, rounded, note)))
            amount = rounded
        item.net = amount
        if item.periods == 1:  # one-time: the total is the (already rounded) net
            item.total = amount
            return
        total = _over_term(amount, item.periods, self.mode)
        item.total = self.round(total) if per_line else total

    # ------------------------------------------------------------------ totals, tax, approvals
    def _round(self, amount) -> Decimal:
        if not isinstance(amount, Decimal):  # a Fraction (isinstance of Fraction, an ABC, is slow)
            amount = to_decimal(amount, self.mode)
        return self.round(amount)

    def _tax_rate(self, item: PricedItem) -> str | None:
        policy = self.chain.tax
        if policy is None:
            return None
        if item.category in policy.by_category:
            return policy.by_category[item.category]
        country = self.context.context.get("country") or self.context.account.get("country")
        if country in policy.rates:
            return country
        return policy.default

    def _totals(self) -> Totals:
        one_time = monthly = annual = list_total = net = ZERO
        by_group: dict[str, Decimal] = {}
        by_rate: dict[str | None, Decimal] = {}
        taxed = self.chain.tax is not None
        for line in self.lines:
            for item in line.items:
                if item.charge == "one_time":
                    line.one_time += item.net
                elif item.charge == "monthly":
                    line.monthly += item.net
                else:
                    line.annual += item.net
                line.total += item.total
                list_total += item.list_amount if item.periods == 1 else _over_term(item.list_amount, item.periods,
                                                                                     self.mode)
                if taxed:
                    rate = self._tax_rate(item)
                    by_rate[rate] = by_rate.get(rate, ZERO) + item.total
            one_time += line.one_time
            monthly += line.monthly
            annual += line.annual
            net += line.total
            by_group[line.group] = by_group.get(line.group, ZERO) + line.total
        facts = self._set_totals(self.items, net=True)
        policy = self.chain.tax
        taxes = []
        for rate, base in by_rate.items():
            if rate is None:
                continue
            percent = policy.rates[rate]
            taxes.append(TaxLine(rate, percent, self._round(base), self._round(base * percent)))
        tax_total = sum((t.tax for t in taxes), ZERO)
        rounded_net = self._round(net)
        return Totals(
            list=self._round(list_total), one_time=self._round(one_time), monthly=self._round(monthly),
            annual=self._round(annual), mrr=self._round(Fraction(monthly) + Fraction(annual) / 12),
            arr=self._round(monthly * 12 + annual), net=rounded_net,
            by_group={g: self._round(v) for g, v in by_group.items()}, tax=tuple(taxes), tax_total=tax_total,
            grand_total=rounded_net + tax_total,
            discount_percent=to_decimal(facts["quote.discount_percent"]),
            margin_percent=to_decimal(facts["quote.margin_percent"]) if self.has_cost else None,
        )

    def _discount_approvals(self) -> list[Approval]:
        limits = self.program.discount_limits
        role = self.context.role
        limit = limits.get(role, ZERO)
        ladder = sorted(limits.items(), key=lambda kv: kv[1])
        out = []
        quote_discount = self.request.discount or ZERO
        for line in self.lines:
            line_discount = line.manual_discount or ZERO
            combined = ONE - (ONE - line_discount) * (ONE - quote_discount)
            if combined <= limit:
                continue
            enough = next((r for r, pct in ladder if pct >= combined), None)
            needed = enough or (ladder[-1][0] if ladder else "admin")
            reason = (f"manual discount {_pct(combined)} on line {line.id} exceeds the {role} limit of {_pct(limit)}"
                      + ("" if enough else "; it exceeds every role's limit"))
            line.approval = Approval("discount_limit", needed, reason, line=line.id)
            out.append(line.approval)
        return out

    def _policy_approvals(self, totals: Totals) -> list[Approval]:
        policies = self.program.approval_policies
        if not policies:
            return []
        import sympy

        values = {sympy.Symbol(name): _engine_value(value) for name, value in self.quote_env.items()}
        for policy in policies:
            for key in self.program.approval_conditions[policy.id].subtotals:
                values[self.program.registry.exprs[key]] = _engine_value(self.subtotal(key))
        fired = set(self.program.approval_program().matching(values))
        return [Approval("policy", p.requires, p.message, p.id, str(p.source)) for p in policies if p.id in fired]


def _divides_by_zero(rule: CompiledRule) -> FormulaError:
    return FormulaError(f"the condition of '{rule.id}' ({rule.source}) divides by zero",
                        rule_id=rule.id, source=rule.where)


def _over_term(amount: Decimal, periods: Fraction, mode: str) -> Decimal:
    """An amount per period times the number of periods (months, or a prorated number of years)."""
    if periods.denominator == 1:
        return amount * periods.numerator
    return to_decimal(Fraction(amount) * periods, mode)


def _engine_value(value):
    """A value for the rules engine: text and booleans as they are, numbers as exact Decimal."""
    if isinstance(value, Fraction):
        return to_decimal(value)
    return value


def _pct(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}%"

