"""A PricedQuote as JSON (amounts as strings) and as a readable text table with the waterfall."""

from __future__ import annotations

from decimal import Decimal

from cpq.pricing.engine import Approval, PricedItem, PricedQuote, PriceStep
from cpq.pricing.money import format_amount


def _pct(fraction: Decimal | None) -> str | None:
    if fraction is None:
        return None
    return f"{(fraction * 100).quantize(Decimal('0.01')).normalize():f}%"


def _step(step: PriceStep, currency: str) -> dict:
    return {
        "kind": step.kind, "label": step.label,
        "before": None if step.before is None else format_amount(step.before, currency),
        "after": format_amount(step.after, currency),
        "rule_id": step.rule_id, "source": step.source, "note": step.note,
    }


def _item(item: PricedItem, currency: str) -> dict:
    return {
        "sku": item.sku, "name": item.name, "role": item.role, "category": item.category,
        "quantity": item.quantity, "units_per_bundle": item.units_per_bundle,
        "charge": item.charge, "term_months": item.term_months, "pricebook": item.book,
        "list": format_amount(item.list_amount, currency),
        "net": format_amount(item.net, currency),
        "total": format_amount(item.total, currency),
        "waterfall": [_step(s, currency) for s in item.steps],
    }


def _approval(a: Approval) -> dict:
    return {"kind": a.kind, "role": a.role, "reason": a.reason, "rule_id": a.rule_id, "source": a.source,
            "line": a.line}


def quote_as_json(quote: PricedQuote) -> dict:
    """The JSON body of a priced quote; every amount is a string in the quote's currency."""
    cur = quote.currency
    t = quote.totals

    def money(amount: Decimal) -> str:
        return format_amount(amount, cur)

    return {
        "currency": cur,
        "date": quote.on.isoformat(),
        "ruleset_version": quote.ruleset_version,
        "pricebooks": list(quote.pricebooks),
        "pricebook_reason": quote.pricebook_reason,
        "rounding": {"mode": quote.rounding_mode, "level": quote.rounding_level},
        "term_months": quote.term_months,
        "lines": [
            {
                "id": line.id, "product": line.product, "name": line.name, "quantity": line.quantity,
                "group": line.group, "manual_discount": _pct(line.manual_discount),
                "needs_approval": None if line.approval is None else f"role {line.approval.role}",
                "one_time": money(line.one_time), "monthly": money(line.monthly), "annual": money(line.annual),
                "total": money(line.total),
                "items": [_item(i, cur) for i in line.items],
            }
            for line in quote.lines
        ],
        "totals": {
            "list": money(t.list), "one_time": money(t.one_time), "monthly": money(t.monthly),
            "annual": money(t.annual), "mrr": money(t.mrr), "arr": money(t.arr), "net": money(t.net),
            "by_group": {g: money(v) for g, v in t.by_group.items()},
            "tax": [{"rate": x.rate, "percent": _pct(x.percent), "base": money(x.base), "tax": money(x.tax)}
                    for x in t.tax],
            "tax_total": money(t.tax_total), "grand_total": money(t.grand_total),
            "discount_percent": _pct(t.discount_percent), "margin_percent": _pct(t.margin_percent),
        },
        "approvals": [_approval(a) for a in quote.approvals],
    }


def render_table(quote: PricedQuote) -> str:
    """A fixed-width text rendering for the CLI: each item, its waterfall, then the totals."""
    cur = quote.currency

    def money(amount: Decimal) -> str:
        return format_amount(amount, cur)

    out = [
        f"Quote in {cur} on {quote.on.isoformat()} — pricebooks {' → '.join(quote.pricebooks)} "
        f"({quote.pricebook_reason}); rounding {quote.rounding_mode} per {quote.rounding_level}; "
        f"ruleset {quote.ruleset_version[:12]}",
        "",
    ]
    width = 38
    for line in quote.lines:
        head = f"Line {line.id}: {line.quantity} × {line.product} {line.name}"
        if line.manual_discount:
            head += f" (manual discount {_pct(line.manual_discount)})"
        out.append(head)
        for item in line.items:
            charge = "" if item.charge == "one_time" else f" /{'month' if item.charge == 'monthly' else 'year'}" \
                f" × {item.term_months} months"
            out.append(f"  {item.sku:<20} {item.quantity:>6} {money(item.net):>16} {cur}{charge}")
            for step in item.steps:
                rule = f"[{step.rule_id}]" if step.rule_id else ""
                where = f" {step.source}" if step.source else ""
                before = "" if step.before is None else money(step.before)
                out.append(f"      {step.kind:<10} {step.label[:width]:<{width}} {before:>14} → {money(step.after):>14}"
                           f"  {step.note} {rule}{where}".rstrip())
        if line.approval:
            out.append(f"  needs approval: role {line.approval.role} — {line.approval.reason}")
        out.append(f"  line total {money(line.total)} {cur}")
        out.append("")
    t = quote.totals
    rows = [("List", t.list), ("One-time", t.one_time), ("Monthly (MRR)", t.mrr), ("Annual (ARR)", t.arr),
            ("Net (contract value)", t.net)]
    rows += [(f"Group {g}", v) for g, v in t.by_group.items()]
    rows += [(f"Tax {x.rate} {_pct(x.percent)} on {money(x.base)}", x.tax) for x in t.tax]
    rows += [("Grand total", t.grand_total)]
    for label, amount in rows:
        out.append(f"{label:<50} {money(amount):>16} {cur}")
    out.append(f"{'Discount off list':<50} {_pct(t.discount_percent):>16}")
    if t.margin_percent is not None:
        out.append(f"{'Margin':<50} {_pct(t.margin_percent):>16}")
    for a in quote.approvals:
        where = f" ({a.rule_id}, {a.source})" if a.rule_id else ""
        out.append(f"needs approval: role {a.role} — {a.reason}{where}")
    return "\n".join(out) + "\n"
