"""A Ruleset's pricing, compiled once: formulas and conditions as closures, rules indexed by target.

`pricing_program(ruleset)` is cached per Ruleset object. Per chain of books (see resolve), a
`ChainIndex` indexes the adjustment and floor rules of those books by product, category, family
and account, so a quote line meets only the rules that name it (or name nothing); the candidates
of a SKU are computed once and kept. Rules whose condition reads only quote facts (account,
channel, quote totals, subtotal()) are "quote-level": they are judged once per quote by the
durable_rules engine (cpq.rules_engine); the others are judged per line by their closures.
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from cpq.catalog import Source
from cpq.pricing.books import Adjustment, AppliesTo, Effective, Floor, Pricebook
from cpq.pricing.compiler import CompiledExpression, SubtotalRegistry, compile_expression
from cpq.pricing.resolve import BookChain, PriceSource, find_price
from cpq.ruleset.model import Ruleset

_CANDIDATE_CACHE_LIMIT = 250_000


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """An adjustment or floor with its targets as sets and its condition compiled."""

    id: str
    kind: str  # discount | markup | amount_off | price | floor
    rule: Adjustment | Floor
    book: str
    order: int
    priority: int
    stack: str | None
    products: frozenset[str]
    categories: frozenset[str]
    families: frozenset[str]
    accounts: frozenset[str]
    effective: Effective
    when: CompiledExpression | None
    quote_level: bool  # condition reads no line field: judged once per quote
    always: bool  # no effective dates: in force on every day
    unconditional: bool  # always, and no condition: it holds for every line it targets
    line_test: object  # the condition's closure when the rule is always in force and reads line fields, else None
    note: str  # the waterfall note, e.g. "discount 12%" (amount rules add "× quantity")
    origin: tuple[str, str, str]  # (label, id, file:line:col): what its waterfall steps name (engine.PriceStep)

    @property
    def label(self) -> str:
        return self.origin[0]

    @property
    def where(self) -> str:
        """file:line:col of the rule."""
        return self.origin[2]

    @property
    def source(self) -> Source:
        return self.rule.source

    def targets(self, sku: str, category: str, family: str) -> bool:
        """Whether applies_to selects this SKU (lists are alternatives; kinds must all hold)."""
        return ((not self.products or sku in self.products)
                and (not self.categories or category in self.categories)
                and (not self.families or family in self.families))


def _compile_rule(rule: Adjustment | Floor, book: Pricebook, order: int, compile_once) -> CompiledRule:
    when = compile_once(rule.when.symbolic) if rule.when is not None else None
    a: AppliesTo = rule.applies_to
    is_floor = isinstance(rule, Floor)
    always = is_floor or (rule.effective.start is None and rule.effective.end is None)
    return CompiledRule(
        id=rule.id, kind="floor" if is_floor else rule.kind, rule=rule, book=book.id, order=order,
        priority=0 if is_floor else rule.priority, stack=None if is_floor else rule.stack,
        products=frozenset(a.products), categories=frozenset(a.categories), families=frozenset(a.families),
        accounts=frozenset(a.accounts), effective=Effective() if is_floor else rule.effective,
        when=when, quote_level=when is not None and not when.uses_line,
        always=always, unconditional=when is None and always,
        line_test=when.fn if when is not None and when.uses_line and always else None,
        note=_note(rule), origin=("Price floor" if is_floor else rule.label, rule.id, str(rule.source)),
    )


def _note(rule: Adjustment | Floor) -> str:
    if isinstance(rule, Floor):
        if rule.min_price is not None:
            return f"minimum {rule.min_price}"
        return f"at most {_pct(rule.max_discount)} off list"
    value = rule.value
    return {"discount": f"discount {_pct(value)}", "markup": f"markup {_pct(value)}",
            "amount_off": f"{value} off", "price": f"price {value}"}[rule.kind]


def _text(unit: Decimal | None) -> str:
    return "" if unit is None else str(unit)


def _pct(fraction) -> str:
    return f"{(fraction * 100).normalize():f}%"


@dataclass(frozen=True, slots=True)
class Candidates:
    """The rules one SKU can meet in one chain: adjustment groups by priority, and floors."""

    groups: tuple[tuple[int, tuple[CompiledRule, ...]], ...]
    floors: tuple[CompiledRule, ...]


@dataclass(slots=True)
class ItemPlan:
    """What pricing one SKU needs in one chain, on one date, for one account — looked up once, kept.

    A quote's items each make one lookup for their plan instead of one each for the price entry,
    the name and category, the candidate rules and whether a formula waits for quote totals.
    """

    source: PriceSource
    name: str
    category: str
    family: str
    candidates: Candidates
    waits: bool  # a formula of its entries reads subtotal() or quote totals: priced after the others
    list_unit: Decimal | None  # the list entry's unit price (None for tiers or a formula)
    list_text: str  # str(list_unit) for the waterfall note ("" without a unit price)
    list_origin: tuple[str, str, str]  # what its list step names: ("List price", book id, file:line:col)
    # the contracted or partner entry when it is not the list entry: (its unit price or None, its
    # str or "", what its step names: (label, book id, file:line:col))
    contract: tuple[Decimal | None, str, tuple[str, str, str]] | None
    ops: tuple | None = None  # adjustment_ops of its candidate groups, built on first use
    # (which quote-wide rules held, the ops of the candidate groups merged with them) for the last
    # quote that used it: one attribute, so that a thread never sees one quote's key with another's ops
    wide: tuple[tuple, tuple] | None = None


# What an adjustment op does (see adjustment_ops).
MULTIPLY, AMOUNT_OFF, SET_PRICE, GROUP = range(4)
HOLDS = object()  # an op's test: the engine judges the rule (dates, quote-level condition) per quote


def adjustment_ops(groups: tuple, held: frozenset[str] = frozenset()) -> tuple:
    """A SKU's candidate groups (by priority) as the flat ops the engine's adjust loop runs.

    Most priorities hold one rule that stacks on the amount so far: that rule becomes one op
    `(kind, test, rule, value, note)`, kind MULTIPLY (a discount or markup, value the factor
    1 − d or 1 + m), AMOUNT_OFF or SET_PRICE (value per unit); test None when it holds for every
    line it targets (or it is among `held`, the quote-wide rules judged to hold for this quote),
    the line condition's closure, or HOLDS. Any other priority (several rules, or an exclusive
    one) is `(GROUP, None, priority, rules, "")`, for the engine's stacking rules.
    """
    ops = []
    for priority, rules in groups:
        rule = rules[0]
        if len(rules) > 1 or rule.stack == "exclusive":
            ops.append((GROUP, None, priority, rules, ""))
            continue
        if rule.unconditional or rule.id in held:
            test = None
        elif rule.line_test is not None:
            test = rule.line_test
        else:
            test = HOLDS
        value = rule.rule.value
        if rule.kind == "discount":
            ops.append((MULTIPLY, test, rule, 1 - value, rule.note))
        elif rule.kind == "markup":
            ops.append((MULTIPLY, test, rule, 1 + value, rule.note))
        else:
            ops.append((AMOUNT_OFF if rule.kind == "amount_off" else SET_PRICE, test, rule, value, rule.note))
    return tuple(ops)


class ChainIndex:
    """The rules of one chain of books, indexed so that a line meets only its candidate rules."""

    def __init__(self, program: PricingProgram, book_ids: tuple[str, ...]):
        self.book_ids = book_ids  # (no reference back to the program: no cycle, freed by refcount)
        rules: list[CompiledRule] = []
        for book_id in reversed(book_ids):  # the list book's rules first, then the more specific books'
            rules.extend(program.rules_by_book[book_id])
        self.rules = tuple(rules)
        # order within a priority: the list book's rules first, then each more specific book's, in file order
        self.position = {id(r): i for i, r in enumerate(self.rules)}
        self.by_product: dict[str, list[CompiledRule]] = defaultdict(list)
        self.by_category: dict[str, list[CompiledRule]] = defaultdict(list)
        self.by_family: dict[str, list[CompiledRule]] = defaultdict(list)
        self.by_account: dict[str, list[CompiledRule]] = defaultdict(list)
        self.anywhere: list[CompiledRule] = []
        self.quote_wide: list[CompiledRule] = []
        for r in self.rules:
            # file each rule under its most selective target; targets() checks the others
            if r.products:
                for key in r.products:
                    self.by_product[key].append(r)
            elif r.categories:
                for key in r.categories:
                    self.by_category[key].append(r)
            elif r.families:
                for key in r.families:
                    self.by_family[key].append(r)
            elif r.accounts:
                for key in r.accounts:
                    self.by_account[key].append(r)
            elif r.quote_level:
                self.quote_wide.append(r)  # judged once per quote; only the ones that hold meet lines
            else:
                self.anywhere.append(r)
        self.quote_rules = tuple(r for r in self.rules if r.quote_level)
        self._candidates: dict[tuple[str, str | None, str | None], Candidates] = {}
        self._prices: dict[tuple[str, date], PriceSource] = {}
        self._plans: dict[tuple[str, date, str | None, str | None], ItemPlan] = {}
        self._sku_info = program.sku_info
        self._formulas = program.formulas
        self._quote_program = None
        self._lock = threading.Lock()

    def candidates(self, sku: str, category: str, family: str, account: str | None, parent: str | None) -> Candidates:
        """The adjustments (grouped by priority) and floors that target this SKU for this account.

        Rules that target every line and have a quote-level condition are not among them: the few
        that hold for a quote are merged in by `with_quote_wide`.
        """
        key = (sku, account, parent)
        found = self._candidates.get(key)
        if found is not None:
            return found
        found_in = [self.by_product.get(sku, ()), self.by_category.get(category, ()),
                    self.by_family.get(family, ()), self.anywhere]
        found_in += [self.by_account.get(a, ()) for a in (account, parent) if a]
        pool = {id(r): r for rules in found_in for r in rules}
        chosen = sorted(
            (r for r in pool.values() if r.targets(sku, category, family)
             and (not r.accounts or account in r.accounts or parent in r.accounts)),
            key=lambda r: (r.priority, self.position[id(r)]),
        )
        groups: dict[int, list[CompiledRule]] = {}
        floors = []
        for r in chosen:
            if r.kind == "floor":
                floors.append(r)
            else:
                groups.setdefault(r.priority, []).append(r)
        found = Candidates(tuple((p, tuple(rs)) for p, rs in groups.items()), tuple(floors))
        if len(self._candidates) >= _CANDIDATE_CACHE_LIMIT:
            self._candidates.clear()
        self._candidates[key] = found
        return found

    def plan(self, chain: BookChain, sku: str, on: date, account: str | None, parent: str | None) -> ItemPlan:
        """The plan of one SKU on a date for an account (PriceNotFound is raised, never kept)."""
        key = (sku, on, account, parent)
        found = self._plans.get(key)
        if found is None:
            source = self.price_source(chain, sku, on)
            name, category, family = self._sku_info[sku]
            entry, listed, book = source.entry, source.list_entry, source.book
            waits = any(e.formula is not None and self._formulas[id(e)].uses_totals for e in (entry, listed))
            list_unit = listed.unit if listed.tiers is None and listed.formula is None else None
            contract = None
            if entry is not listed:
                label = "Contract price" if book.account else "Partner price" if book.partner else f"Price of {book.name}"
                contract = (entry.unit, _text(entry.unit), (label, book.id, source.where))
            found = ItemPlan(source, name, category, family, self.candidates(sku, category, family, account, parent),
                             waits, list_unit, _text(list_unit), ("List price", source.list_book.id, source.list_where),
                             contract)
            if len(self._plans) >= _CANDIDATE_CACHE_LIMIT:
                self._plans.clear()
            self._plans[key] = found
        return found

    def adjustments(self, plan: ItemPlan, wide: tuple, wide_key: tuple) -> tuple:
        """The adjustment ops of a plan's candidates merged with the quote-wide rules held for a quote.

        `wide` holds those rules by priority, `wide_key` their ids. Kept on the plan per `wide_key`:
        consecutive quotes of one account and country meet the same few quote-wide rules, so each
        SKU's merge is done once, not per quote.
        """
        if not wide:
            ops = plan.ops
            if ops is None:
                ops = plan.ops = adjustment_ops(plan.candidates.groups)
            return ops
        kept = plan.wide
        if kept is not None and kept[0] == wide_key:
            return kept[1]
        groups: dict[int, tuple[CompiledRule, ...]] = dict(plan.candidates.groups)
        position = self.position
        for priority, rules in wide:
            groups[priority] = tuple(sorted((*groups.get(priority, ()), *rules), key=lambda r: position[id(r)]))
        ops = adjustment_ops(tuple(sorted(groups.items())), frozenset(wide_key))
        plan.wide = (wide_key, ops)
        return ops

    def price_source(self, chain: BookChain, sku: str, on: date) -> PriceSource:
        """find_price for this chain, kept: the books of a chain are fixed, so (SKU, date) decides it."""
        key = (sku, on)
        found = self._prices.get(key)
        if found is None:
            found = find_price(chain, sku, on)  # PriceNotFound is raised, never kept
            if len(self._prices) >= _CANDIDATE_CACHE_LIMIT:
                self._prices.clear()
            self._prices[key] = found
        return found

    def quote_program(self):
        """The durable_rules program judging this chain's quote-level conditions (built on first use)."""
        if self._quote_program is None:
            with self._lock:
                if self._quote_program is None:
                    from cpq.rules_engine import RuleProgram

                    conditions = [(r.id, r.rule.when.symbolic) for r in self.quote_rules]
                    self._quote_program = RuleProgram(conditions, "promotions")
        return self._quote_program


class PricingProgram:
    """Everything pricing compiles from one Ruleset: formulas, rule conditions, indexes per chain."""

    def __init__(self, ruleset: Ruleset):
        # no reference to the Ruleset itself: the cache below lives only as long as the Ruleset does
        self.version = ruleset.version
        self.pricebooks = ruleset.pricebooks
        self.products = ruleset.products
        self.options = ruleset.options
        self.approval_policies = ruleset.approval_policies
        self.discount_limits = ruleset.discount_limits
        self.registry = SubtotalRegistry()
        self.formulas: dict[int, CompiledExpression] = {}  # id(PriceEntry) → compiled formula
        self.rules_by_book: dict[str, tuple[CompiledRule, ...]] = {}
        self._compiled: dict[object, CompiledExpression] = {}  # sympy form → closure (closures are pure)
        order = 0
        for book in ruleset.pricebooks.values():
            for entries in book.prices.values():
                for entry in entries:
                    if entry.formula is not None:
                        self.formulas[id(entry)] = compile_expression(entry.formula.symbolic, self.registry)
            compiled = []
            for rule in (*book.adjustments, *book.floors):
                compiled.append(_compile_rule(rule, book, order, self.compile_once))
                order += 1
            self.rules_by_book[book.id] = tuple(compiled)
        self.sku_info: dict[str, tuple[str, str, str]] = {}  # sku → (name, category, family)
        # for bundle.<attr>: integers stay int (exact, and much cheaper to sum per quote than Fraction)
        self.numeric_attributes: dict[str, tuple[tuple[str, int | Fraction], ...]] = {}
        for o in ruleset.options.values():
            self.sku_info[o.id] = (o.name, o.category, o.family)
            self.numeric_attributes[o.id] = tuple(
                (k, v if isinstance(v, int) else Fraction(v)) for k, v in o.attributes.items()
                if isinstance(v, int | Decimal) and not isinstance(v, bool))
        self.allowed_options: dict[str, frozenset[str]] = {}
        for p in ruleset.products.values():
            self.sku_info[p.id] = (p.name, p.category, p.family)
            self.allowed_options[p.id] = frozenset(p.option_ids)
        self.approval_conditions = {
            p.id: compile_expression(p.when.symbolic, self.registry) for p in ruleset.approval_policies
        }
        self._chains: dict[tuple[str, ...], ChainIndex] = {}
        self._approvals = None
        self._lock = threading.Lock()

    def compile_once(self, symbolic) -> CompiledExpression:
        """The closure of an expression, compiled once per Ruleset: 10,000 rules share a few conditions."""
        found = self._compiled.get(symbolic)
        if found is None:
            found = self._compiled[symbolic] = compile_expression(symbolic, self.registry)
        return found

    def chain_index(self, book_ids: tuple[str, ...]) -> ChainIndex:
        index = self._chains.get(book_ids)
        if index is None:
            with self._lock:
                index = self._chains.get(book_ids)
                if index is None:
                    index = self._chains[book_ids] = ChainIndex(self, book_ids)
        return index

    def approval_program(self):
        """The durable_rules program of the Ruleset's approval policies (built on first use)."""
        if self._approvals is None:
            with self._lock:
                if self._approvals is None:
                    from cpq.rules_engine import RuleProgram

                    self._approvals = RuleProgram(
                        [(p.id, p.when.symbolic) for p in self.approval_policies], "approvals")
        return self._approvals


_programs: dict[int, tuple[weakref.ref, PricingProgram]] = {}
_programs_lock = threading.RLock()  # re-entrant: a weakref callback may run inside it


def pricing_program(ruleset: Ruleset) -> PricingProgram:
    """The compiled pricing of this Ruleset, built once and shared while the Ruleset lives."""
    key = id(ruleset)
    held = _programs.get(key)
    if held is not None and held[0]() is ruleset:
        return held[1]
    with _programs_lock:
        held = _programs.get(key)
        if held is not None and held[0]() is ruleset:
            return held[1]
        program = PricingProgram(ruleset)
        _programs[key] = (weakref.ref(ruleset, _forget(key)), program)
        return program


def _forget(key: int):
    def forget(ref: weakref.ref) -> None:
        with _programs_lock:
            if key in _programs and _programs[key][0] is ref:
                del _programs[key]

    return forget

