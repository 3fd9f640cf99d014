"""A quote revision: validate its lines, price them, and compare revisions (pure core).

Every save of a quote goes through `price_revision`: each configured line is validated by the
configurator, then the whole quote is priced server-side; whatever prices a client sent are never
read. The result is stored whole (lines, waterfalls, totals, approvals) with the Ruleset version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cpq.accounts import Account
from cpq.configurator.selection import Selection
from cpq.configurator.service import validate
from cpq.errors import CPQError
from cpq.pricing.engine import price_quote
from cpq.pricing.report import quote_as_json
from cpq.pricing.request import parse_quote
from cpq.ruleset.model import Ruleset

# Facts of a revision that approval policies test, and which direction is "worse" for each.
WORSE_WHEN_HIGHER = ("quote.discount_percent", "quote.total", "quote.list_total", "quote.term_months",
                     "quote.line_count", "manual_discount")
WORSE_WHEN_LOWER = ("quote.margin_percent",)


class LinesInvalid(CPQError):
    """One or more configured lines break product rules; every violation is listed per line."""

    code = "configuration_invalid"
    status = 422
    title = "The configuration is not valid"


@dataclass(frozen=True)
class QuoteTerms:
    """What a quote is priced under: currency, channel, book, dates, terms and quote-wide discount."""

    currency: str
    channel: str = "direct"
    pricebook: str | None = None
    valid_until: date | None = None
    payment_terms: str | None = None
    delivery_terms: str | None = None
    term_months: int | None = None
    discount: str | None = None  # "5%"


def account_fields(account: Account) -> dict[str, str]:
    """The account as pricing and rules see it (`account.*` names)."""
    fields = {"id": account.id, "segment": account.segment, "country": account.country,
              "partner": account.partner_id, "parent": account.parent_id}
    return {k: v for k, v in fields.items() if v}


def validate_lines(ruleset: Ruleset, lines: Sequence[Mapping], context: Mapping[str, str]) -> None:
    """Raise LinesInvalid listing every rule every line breaks (the bundle and its components)."""
    problems = []
    for index, line in enumerate(lines):
        product = ruleset.products.get(line["product"])
        if product is None:
            continue  # pricing reports unknown products with its own error
        checks = [(line["product"], line.get("options", ()), {c["id"]: c.get("quantity", 1) for c in line.get("components", ())})]
        by_component = {c.id: c.product for c in product.components}
        for component in line.get("components", ()):
            if component["id"] in by_component and component.get("options"):
                checks.append((by_component[component["id"]], component["options"], {}))
        for product_id, options, components in checks:
            selection = Selection(options={o["id"]: o.get("quantity", 1) for o in options}, components=components)
            result = validate(ruleset, product_id, selection, context)
            for violation in result.violations:
                problems.append({"line": line.get("id", str(index + 1)), "product": product_id, **violation.as_dict()})
    if problems:
        raise LinesInvalid(f"{len(problems)} rule(s) broken; see 'errors'", errors=problems)


def price_revision(ruleset: Ruleset, terms: QuoteTerms, lines: Sequence[Mapping], account: Account,
                   role: str, today: date) -> dict:
    """Validate and price the lines; the stored form of a revision (JSON-ready, amounts as strings)."""
    context = {"channel": terms.channel}
    if account.country:
        context["country"] = account.country
    if account.partner_id:
        context["partner"] = account.partner_id
    rule_context = {f"context.{k}": v for k, v in context.items()}
    rule_context |= {f"account.{k}": v for k, v in account_fields(account).items()}
    validate_lines(ruleset, lines, rule_context)
    body = {"currency": terms.currency, "date": today.isoformat(), "account": account_fields(account),
            "context": context, "role": role, "lines": [dict(line) for line in lines]}
    if terms.pricebook:
        body["pricebook"] = terms.pricebook
    if terms.term_months:
        body["term_months"] = terms.term_months
    if terms.discount:
        body["discount"] = terms.discount
    request, pricing_context = parse_quote(body, today)
    return quote_as_json(price_quote(ruleset, request, pricing_context))


def facts(priced: Mapping) -> dict[str, Decimal]:
    """The numbers approval policies test, from a stored priced revision."""
    totals = priced["totals"]

    def pct(text):
        return None if text is None else Decimal(text.removesuffix("%")) / 100

    out = {
        "quote.total": Decimal(totals["net"]),
        "quote.list_total": Decimal(totals["list"]),
        "quote.discount_percent": pct(totals["discount_percent"]),
        "quote.margin_percent": pct(totals["margin_percent"]),
        "quote.term_months": Decimal(priced.get("term_months") or 0),
        "quote.line_count": Decimal(len(priced["lines"])),
    }
    return {k: v for k, v in out.items() if v is not None}


def got_worse(fields: Sequence[str], before: Mapping[str, Decimal], after: Mapping[str, Decimal]) -> list[str]:
    """Which of `fields` moved in the direction an approver would object to since `before`."""
    worse = []
    for name in fields:
        if name not in after:
            continue
        old = before.get(name)
        if old is None or name in WORSE_WHEN_LOWER and after[name] < old or name not in WORSE_WHEN_LOWER and after[name] > old:
            worse.append(name)
    return worse


def policy_fields(ruleset: Ruleset, policy_id: str) -> list[str]:
    """The quote facts an approval policy's condition reads (for smart re-approval)."""
    policy = next((p for p in ruleset.approval_policies if p.id == policy_id), None)
    if policy is None:
        return list(WORSE_WHEN_HIGHER + WORSE_WHEN_LOWER)
    names = {str(s) for s in policy.when.symbolic.free_symbols}
    return sorted(n for n in names if n in WORSE_WHEN_HIGHER + WORSE_WHEN_LOWER) or sorted(names)


def document_hash(number: str, revision: int, priced: Mapping) -> str:
    """The hash a buyer accepts: the exact priced content of one revision of one quote."""
    canonical = json.dumps({"quote": number, "revision": revision, "priced": priced}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def diff_revisions(old_lines: Sequence[Mapping], old_priced: Mapping, new_lines: Sequence[Mapping],
                   new_priced: Mapping) -> dict:
    """What changed between two revisions: lines added, removed and changed, and the totals."""
    def by_id(lines):
        return {str(line.get("id", i + 1)): line for i, line in enumerate(lines)}

    def priced_by_id(priced):
        return {line["id"]: line for line in priced["lines"]}

    old, new = by_id(old_lines), by_id(new_lines)
    old_p, new_p = priced_by_id(old_priced), priced_by_id(new_priced)
    changed = []
    for line_id in sorted(old.keys() & new.keys(), key=_natural):
        changes = {}
        for key in ("product", "quantity", "discount", "group", "term_months"):
            if old[line_id].get(key) != new[line_id].get(key):
                changes[key] = {"from": old[line_id].get(key), "to": new[line_id].get(key)}
        before = {o["id"]: o.get("quantity", 1) for o in old[line_id].get("options", ())}
        after = {o["id"]: o.get("quantity", 1) for o in new[line_id].get("options", ())}
        if before != after:
            changes["options"] = {
                "added": sorted(after.keys() - before.keys()),
                "removed": sorted(before.keys() - after.keys()),
                "quantity": {k: {"from": before[k], "to": after[k]}
                             for k in sorted(before.keys() & after.keys()) if before[k] != after[k]},
            }
        old_total, new_total = old_p.get(line_id, {}).get("total"), new_p.get(line_id, {}).get("total")
        if old_total != new_total:
            changes["total"] = {"from": old_total, "to": new_total}
        if changes:
            changed.append({"line": line_id, "changes": changes})
    totals = {k: {"from": old_priced["totals"][k], "to": new_priced["totals"][k]}
              for k in ("list", "net", "tax_total", "grand_total", "discount_percent")
              if old_priced["totals"].get(k) != new_priced["totals"].get(k)}
    return {
        "added": [new[i] for i in sorted(new.keys() - old.keys(), key=_natural)],
        "removed": [old[i] for i in sorted(old.keys() - new.keys(), key=_natural)],
        "changed": changed,
        "totals": totals,
        "ruleset": None if old_priced["ruleset_version"] == new_priced["ruleset_version"] else
        {"from": old_priced["ruleset_version"], "to": new_priced["ruleset_version"]},
    }


def _natural(key: str):
    return (0, int(key), "") if key.isdigit() else (1, 0, key)
