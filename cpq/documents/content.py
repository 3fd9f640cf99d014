"""What a quote document shows, built from a stored priced revision (pure: no Flask, database or PDF).

The stored revision is rendered as it was priced (no re-pricing). Its items come in the engine's
order: the bundle's product, the product's options, then each component followed by that
component's options. A line with more than one item becomes a *bundle*: a head row with the line's
quantity and totals, then one row per item (the product itself as "base unit"), components one level
deeper. Unit prices are the stored amounts divided by the quantity; they are shown, never re-used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

ZERO = Decimal(0)
# one rendering never lays out more table rows than this (lines, items and waterfall steps)
MAX_ROWS = 20_000


@dataclass(frozen=True)
class DocumentOptions:
    """How to render: language, paper, and which prices to show (query parameters or CLI flags)."""

    language: str = "en"  # en | de | zh
    paper: str = "a4"  # a4 | letter
    hide_component_prices: bool = False  # bundles show their totals only
    hide_discounts: bool = False  # net prices only: no list prices, no discounts
    waterfall: bool = False  # append every item's price steps


@dataclass(frozen=True)
class Party:
    """A seller or a buyer as printed: name, postal address, tax id and how to reach them."""

    name: str
    address: str | None = None
    tax_id: str | None = None
    country: str | None = None
    contact: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    """One row of the lines table: a line's head, or an item of a bundle (depth 1 or 2)."""

    sku: str
    name: str
    depth: int
    role: str  # line | base | option | component
    quantity: int
    charge: str = "one_time"  # one_time | monthly | annual (per period prices) | bundle (over the term)
    term_months: int | None = None
    unit_list: Decimal | None = None
    discount: Decimal | None = None  # fraction off list; None when there is none
    unit_net: Decimal | None = None
    amount: Decimal | None = None  # None: price hidden (bundle components with hide_component_prices)


@dataclass(frozen=True)
class Line:
    """A quote line: its position, head row and, for a bundle, the rows of its items."""

    position: int
    id: str
    head: Row
    items: tuple[Row, ...]


@dataclass(frozen=True)
class Group:
    """Lines that share a group name; `name` is None for lines without one."""

    name: str | None
    lines: tuple[Line, ...]
    subtotal: Decimal


@dataclass(frozen=True)
class TaxRow:
    rate: str
    percent: Decimal | None
    base: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Totals:
    """The money summary: one-time and recurring subtotals, discount, tax per rate, grand total."""

    list: Decimal
    one_time: Decimal
    monthly: Decimal  # recurring revenue per month (MRR)
    annual: Decimal  # per year (ARR)
    recurring: Decimal  # recurring charges over the whole term
    net: Decimal
    discount: Decimal | None  # fraction of the list total
    tax: tuple[TaxRow, ...]
    tax_total: Decimal
    grand_total: Decimal
    term_months: int | None


@dataclass(frozen=True)
class PriceStep:
    kind: str
    label: str
    before: Decimal | None
    after: Decimal
    note: str
    rule_id: str | None


@dataclass(frozen=True)
class ItemWaterfall:
    """The price steps of one item, for the appendix."""

    line_position: int
    sku: str
    name: str
    steps: tuple[PriceStep, ...]


@dataclass(frozen=True)
class Acceptance:
    name: str
    email: str | None
    at: datetime


@dataclass(frozen=True)
class Contact:
    name: str
    email: str | None = None


@dataclass(frozen=True)
class QuoteDocument:
    """Everything the template prints, already decided; amounts are Decimal, formatting comes later."""

    number: str
    revision: int
    state: str
    currency: str
    issue_date: date
    valid_until: date | None
    payment_terms: str | None
    delivery_terms: str | None
    seller: Party
    buyer: Party
    owner: Contact | None
    groups: tuple[Group, ...]
    totals: Totals
    ruleset_version: str
    document_hash: str | None
    verify_url: str | None
    accepted: Acceptance | None = None
    waterfall: tuple[ItemWaterfall, ...] = ()
    options: DocumentOptions = field(default_factory=DocumentOptions)

    @property
    def line_count(self) -> int:
        return sum(len(g.lines) for g in self.groups)

    @property
    def row_count(self) -> int:
        rows = sum(1 + len(line.items) for g in self.groups for line in g.lines)
        return rows + sum(len(w.steps) for w in self.waterfall)

    @property
    def is_issued(self) -> bool:
        """Sent to the buyer: it has a document hash that the verification endpoint knows."""
        return self.document_hash is not None


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _pct(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text.removesuffix("%")) / 100


def _periods(item: Mapping) -> Decimal:
    """How many charge periods the item's `total` covers (1 for one-time charges)."""
    months = item.get("term_months") or 12
    if item.get("charge") == "monthly":
        return Decimal(months)
    if item.get("charge") == "annual":
        return Decimal(months) / 12
    return Decimal(1)


def _discount(list_amount: Decimal, net: Decimal) -> Decimal | None:
    if list_amount <= 0 or net == list_amount:
        return None
    return ((list_amount - net) / list_amount).quantize(Decimal("0.0001"))


def _per_unit(amount: Decimal, quantity: int) -> Decimal:
    return amount / quantity if quantity else amount


def _item_row(item: Mapping, depth: int, role: str, name: str, show_prices: bool) -> Row:
    quantity = int(item["quantity"])
    list_amount, net = Decimal(item["list"]), Decimal(item["net"])
    if not show_prices:
        return Row(sku=item["sku"], name=name, depth=depth, role=role, quantity=quantity,
                   charge=item.get("charge") or "one_time", term_months=item.get("term_months"))
    return Row(sku=item["sku"], name=name, depth=depth, role=role, quantity=quantity,
               charge=item.get("charge") or "one_time", term_months=item.get("term_months"),
               unit_list=_per_unit(list_amount, quantity), discount=_discount(list_amount, net),
               unit_net=_per_unit(net, quantity), amount=Decimal(item["total"]))


def _strip_prefix(name: str, prefix: str | None) -> str:
    return name.removeprefix(f"{prefix}: ") if prefix else name


def build_line(position: int, line: Mapping, options: DocumentOptions) -> Line:
    """A priced line as a head row and, for a bundle, nested item rows."""
    items = line["items"]
    quantity = int(line["quantity"])
    total = Decimal(line["total"])
    if len(items) == 1:  # a plain product: its one item is the line
        head = _item_row(items[0], 0, "line", line["name"], True)
        return Line(position=position, id=str(line["id"]), head=head, items=())
    show_items = not options.hide_component_prices
    rows: list[Row] = []
    component: str | None = None
    for item in items:
        role = item.get("role", "option")
        if role == "product":
            component = None
            rows.append(_item_row(item, 1, "base", item["name"], show_items))
        elif role == "component":
            component = item["name"].split(": ", 1)[0] if ": " in item["name"] else None
            rows.append(_item_row(item, 1, "component", _strip_prefix(item["name"], component), show_items))
        else:  # an option: of the bundle's product, or of the component just above it
            nested = component is not None and item["name"].startswith(f"{component}: ")
            rows.append(_item_row(item, 2 if nested else 1, "option",
                                  _strip_prefix(item["name"], component if nested else None), show_items))
    list_over_term = sum((Decimal(i["list"]) * _periods(i) for i in items), ZERO)
    recurring = any(i.get("charge") in ("monthly", "annual") for i in items)
    head = Row(sku=line["product"], name=line["name"], depth=0, role="line", quantity=quantity,
               charge="bundle" if recurring else "one_time",
               unit_list=_per_unit(list_over_term, quantity), discount=_discount(list_over_term, total),
               unit_net=_per_unit(total, quantity), amount=total)
    return Line(position=position, id=str(line["id"]), head=head, items=tuple(rows))


def build_groups(priced: Mapping, options: DocumentOptions) -> tuple[Group, ...]:
    """Lines in order, gathered under their group; a group named after its only line id is no group."""
    by_group = priced["totals"].get("by_group", {})
    groups: dict[str | None, list[Line]] = {}
    for position, line in enumerate(priced["lines"], 1):
        name = line.get("group")
        key = None if name in (None, "", str(line["id"])) else name
        groups.setdefault(key, []).append(build_line(position, line, options))
    out = []
    for name, lines in groups.items():
        subtotal = sum((line.head.amount or ZERO for line in lines), ZERO)
        if name is not None and name in by_group:
            subtotal = Decimal(by_group[name])
        out.append(Group(name=name, lines=tuple(lines), subtotal=subtotal))
    return tuple(out)


def build_totals(priced: Mapping) -> Totals:
    t = priced["totals"]
    one_time, net = Decimal(t["one_time"]), Decimal(t["net"])
    return Totals(
        list=Decimal(t["list"]), one_time=one_time, monthly=Decimal(t.get("mrr") or t.get("monthly") or "0"),
        annual=Decimal(t.get("arr") or t.get("annual") or "0"), recurring=net - one_time, net=net,
        discount=_pct(t.get("discount_percent")),
        tax=tuple(TaxRow(rate=x["rate"], percent=_pct(x.get("percent")), base=Decimal(x["base"]),
                         tax=Decimal(x["tax"])) for x in t.get("tax", ())),
        tax_total=Decimal(t["tax_total"]), grand_total=Decimal(t["grand_total"]),
        term_months=priced.get("term_months"))


def build_waterfall(priced: Mapping) -> tuple[ItemWaterfall, ...]:
    out = []
    for position, line in enumerate(priced["lines"], 1):
        for item in line["items"]:
            steps = tuple(PriceStep(kind=s["kind"], label=s["label"], before=_dec(s.get("before")),
                                    after=Decimal(s["after"]), note=s.get("note") or "", rule_id=s.get("rule_id"))
                          for s in item.get("waterfall", ()))
            out.append(ItemWaterfall(line_position=position, sku=item["sku"], name=item["name"], steps=steps))
    return tuple(out)


def count_rows(priced: Mapping, options: DocumentOptions) -> int:
    """Rows a rendering would lay out, counted before building anything (for the size limit)."""
    lines: Sequence[Mapping] = priced.get("lines", ())
    rows = sum(1 + (len(line["items"]) if len(line["items"]) > 1 else 0) for line in lines)
    if options.waterfall:
        rows += sum(len(item.get("waterfall", ())) + 1 for line in lines for item in line["items"])
    return rows


def build_document(*, number: str, revision: int, state: str, currency: str, issue_date: date,
                   valid_until: date | None, payment_terms: str | None, delivery_terms: str | None,
                   seller: Party, buyer: Party, owner: Contact | None, priced: Mapping, ruleset_version: str,
                   document_hash: str | None, verify_url: str | None, accepted: Acceptance | None,
                   options: DocumentOptions) -> QuoteDocument:
    """The document of one revision, from its stored priced content (cost and margin are never read)."""
    return QuoteDocument(
        number=number, revision=revision, state=state, currency=currency, issue_date=issue_date,
        valid_until=valid_until, payment_terms=payment_terms, delivery_terms=delivery_terms, seller=seller,
        buyer=buyer, owner=owner, groups=build_groups(priced, options), totals=build_totals(priced),
        ruleset_version=ruleset_version, document_hash=document_hash, verify_url=verify_url, accepted=accepted,
        waterfall=build_waterfall(priced) if options.waterfall else (), options=options)
