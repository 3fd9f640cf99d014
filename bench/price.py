"""Pricing benchmark: a generated catalog of 100,000 price entries and 20,000 adjustment rules.

    PYTHONPATH=. python bench/price.py [--quick] [--naive-runs N]

Generates product files and pricebooks into a temporary folder and loads them with
cpq.ruleset.loader.load_ruleset (so loading is measured as admins would hit it): the books' prices
and adjustment rules as CSV tables beside each book, and — the load baseline, in the same run — the
same books all in YAML. Load figures are wall and CPU seconds (the machine is shared), split into
the product files and the pricebooks. It compiles the pricing program, then prices quotes of 10, 100 and 1,000 lines (each line a product with one
option, so 2 priced items per line) and prints p50/p95 for:

- this engine (rules indexed by product/category/family/account; quote-level conditions judged
  once per quote by durable_rules);
- a naive baseline in the same run: the same engine, but every rule of the chain is checked
  against every item (no index, every condition evaluated per item);
- this engine again with the rules doubled (40,000), to show what more rules cost: the two
  catalogs are priced alternately, quote by quote, so both figures meet the same load.

Figures go to stdout; docs/benchmarks.md ("Pricing") records a run.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cpq.pricing import engine as pricing_engine  # noqa: E402
from cpq.pricing.engine import price_quote  # noqa: E402
from cpq.pricing.program import Candidates, ChainIndex, ItemPlan, adjustment_ops, pricing_program  # noqa: E402
from cpq.pricing.request import OptionChoice, PricingContext, QuoteLine, QuoteRequest  # noqa: E402
from cpq.pricing.resolve import find_price  # noqa: E402
from cpq.ruleset.loader import load_ruleset  # noqa: E402

FAMILIES = 50
OPTIONS_PER_FAMILY = 500  # 25,000 options
PRODUCTS_PER_FAMILY = 20  # 1,000 products, each offering 25 of its family's options
CATEGORIES = 200
ON = date(2026, 6, 1)


def _sku(family: int, option: int) -> str:
    return f"OPT-{family:02d}-{option:04d}"


def _product(family: int, product: int) -> str:
    return f"PRD-{family:02d}-{product:03d}"


def _category(family: int, option: int) -> str:
    return f"cat{(family * OPTIONS_PER_FAMILY + option) % CATEGORIES:03d}"


def write_catalog(folder: Path, rules: int, seed: int = 7, tables: bool = True) -> dict:
    """Write rules/ and pricebooks/ under `folder`; return the counts written.

    With `tables` the prices and adjustment rules go into CSV tables beside each book
    (`price_tables` / `adjustment_tables`); without, into the book's YAML (`prices:` /
    `adjustments:`). Both forms hold the same entries and rules.
    """
    rnd = random.Random(seed)
    (folder / "rules").mkdir(parents=True)
    (folder / "pricebooks").mkdir(parents=True)
    skus = []
    for f in range(FAMILIES):
        lines = ["format: 1", "kind: product", f"family: fam{f:02d}", "category: hardware",
                 "attributes: {cores: integer}", "options:"]
        for o in range(OPTIONS_PER_FAMILY):
            lines.append(f"  {_sku(f, o)}: {{name: Option {f}-{o}, category: {_category(f, o)}, "
                         f"attributes: {{cores: {1 + o % 64}}}, quantity: {{min: 1, max: 100}}}}")
            skus.append(_sku(f, o))
        lines.append("products:")
        for p in range(PRODUCTS_PER_FAMILY):
            first = p * (OPTIONS_PER_FAMILY // PRODUCTS_PER_FAMILY)
            opts = ", ".join(_sku(f, first + k) for k in range(OPTIONS_PER_FAMILY // PRODUCTS_PER_FAMILY))
            lines.append(f"  {_product(f, p)}:")
            lines.append(f"    name: Product {f}-{p}")
            lines.append(f"    features: {{opt: {{label: Options, min: 0, max: 3, quantity: true, options: [{opts}]}}}}")
            skus.append(_product(f, p))
        (folder / "rules" / f"fam{f:02d}.yaml").write_text("\n".join(lines) + "\n")

    # prices[book] = [(sku, entry)], an entry being ("unit", unit, cost, from, to) or ("volume", bands)
    prices: dict[str, list] = {"bench-list": [], "bench-partner": [], "bench-contract": []}
    entries = 0
    # list book: every SKU, with a price change on 2026-07-01 (2 dated entries each); 10 % volume-tiered
    for i, sku in enumerate(skus):
        if i % 10 == 0:
            prices["bench-list"].append((sku, ("volume", [(1, 9, f"{100 + i % 900}.00"), (10, None, f"{90 + i % 900}.00")])))
            entries += 1
        else:
            prices["bench-list"].append((sku, ("unit", f"{100 + i % 900}.50", f"{60 + i % 500}.00", None, "2026-06-30")))
            prices["bench-list"].append((sku, ("unit", f"{105 + i % 900}.50", f"{62 + i % 500}.00", "2026-07-01", None)))
            entries += 2
    target = 100_000
    i = 0
    while entries < target and i < 2 * len(skus):
        sku = skus[i % len(skus)]
        book = "bench-partner" if i < len(skus) else "bench-contract"
        prices[book].append((sku, ("unit", f"{95 + i % 800}.25", None, None, None)))
        entries += 1
        i += 1
    headers = {"bench-list": ["currency: USD", "effective: {from: 2026-01-01}"],
               "bench-partner": ["extends: bench-list", "channel: partner", "partner: P1"],
               "bench-contract": ["extends: bench-partner", "account: A1"]}

    # Adjustment rules, spread over the three books. Broad rules (per category, per family, quote-wide)
    # are a fixed number, as pricing policies are; the rest name one product each, so doubling the
    # rules doubles the product-specific ones (more contracts and promotions on more SKUs).
    # A rule is (id, target kind, target, condition, effect kind, effect value, priority, stack).
    broad = [("categories", f"cat{c % CATEGORIES:03d}", "line.quantity >= 20 and account.segment == 'enterprise'")
             for c in range(2 * CATEGORIES)]
    broad += [("families", f"fam{f:02d}", "line.quantity >= 50") for f in range(FAMILIES)]
    broad += [(None, None, f"context.country == 'C{q:02d}' and quote.list_total >= 10000") for q in range(20)]
    rnd.shuffle(broad)
    per_book = {"bench-list": rules // 2, "bench-partner": rules * 3 // 10}
    per_book["bench-contract"] = rules - per_book["bench-list"] - per_book["bench-partner"]
    adjustments: dict[str, list] = {}
    for book_id in prices:
        adjustments[book_id] = []
        for r in range(per_book[book_id]):
            effect = rnd.choice([("discount", "3%"), ("discount", "5%"), ("markup", "2%"), ("amount_off", "1.00")])
            priority = rnd.randint(1, 40)
            stack = ("compound", "additive", "best")[priority % 3]  # one stacking policy per priority
            if broad and rnd.random() < len(broad) / max(1, rules):
                target_kind, target_value, when = broad.pop()
            else:
                when = None if rnd.random() < 0.5 else "line.quantity >= 5"
                target_kind, target_value = "products", rnd.choice(skus)
            adjustments[book_id].append((f"{book_id}-r{r}", target_kind, target_value, when, *effect, priority, stack))

    for book_id, header in headers.items():
        book_lines = ["format: 1", "kind: pricebook", f"id: {book_id}", *header]
        if tables:
            book_lines += [f"price_tables: [{book_id}-prices.csv]", f"adjustment_tables: [{book_id}-rules.csv]"]
            _write_price_table(folder / "pricebooks" / f"{book_id}-prices.csv", prices[book_id])
            _write_rule_table(folder / "pricebooks" / f"{book_id}-rules.csv", adjustments[book_id])
        else:
            book_lines += ["prices:", *_yaml_prices(prices[book_id]), "adjustments:"]
            for rule_id, kind, value, when, effect, amount, priority, stack in adjustments[book_id]:
                target_text = f"applies_to: {{{kind}: [{value}]}}" if kind else "applies_to: {}"
                if when:
                    target_text += f", when: \"{when}\""
                amount = f'"{amount}"' if effect == "amount_off" else amount
                book_lines.append(f"  - {{id: {rule_id}, {target_text}, {effect}: {amount}, priority: {priority}, "
                                  f"stack: {stack}}}")
        if book_id == "bench-list":
            book_lines.append("floors:\n  - {id: bench-floor, applies_to: {}, max_discount: 40%}")
        (folder / "pricebooks" / f"{book_id}.yaml").write_text("\n".join(book_lines) + "\n")
    return {"skus": len(skus), "price_entries": entries, "rules": rules}


def _yaml_prices(entries: list) -> list[str]:
    lines, by_sku = [], {}
    for sku, entry in entries:
        by_sku.setdefault(sku, []).append(entry)
    for sku, found in by_sku.items():
        if found[0][0] == "volume":
            bands = found[0][1]
            lines.append(f"  {sku}:\n    tiers: volume\n    bands:")
            for first, last, unit in bands:
                to = f" to: {last}," if last is not None else ""
                lines.append(f"      - {{from: {first},{to} unit: \"{unit}\"}}")
        elif len(found) == 1 and found[0][2] is None and found[0][3] is None and found[0][4] is None:
            lines.append(f"  {sku}: \"{found[0][1]}\"")
        else:
            lines.append(f"  {sku}:")
            for _, unit, cost, start, end in found:
                dates = ", ".join(f"{k}: {v}" for k, v in (("from", start), ("to", end)) if v)
                lines.append(f"    - {{unit: \"{unit}\", cost: \"{cost}\", effective: {{{dates}}}}}")
    return lines


def _write_price_table(path: Path, entries: list) -> None:
    rows = ["sku,unit,cost,effective_from,effective_to,tiers,band_from,band_to"]
    for sku, entry in entries:
        if entry[0] == "volume":
            for first, last, unit in entry[1]:
                rows.append(f"{sku},{unit},,,,volume,{first},{last if last is not None else ''}")
        else:
            _, unit, cost, start, end = entry
            rows.append(f"{sku},{unit},{cost or ''},{start or ''},{end or ''},,,")
    path.write_text("\n".join(rows) + "\n")


def _write_rule_table(path: Path, rules: list) -> None:
    rows = ["id,products,categories,families,when,discount,markup,amount_off,priority,stack"]
    for rule_id, kind, value, when, effect, amount, priority, stack in rules:
        targets = [value if kind == k else "" for k in ("products", "categories", "families")]
        effects = [amount if effect == k else "" for k in ("discount", "markup", "amount_off")]
        rows.append(",".join([rule_id, *targets, f'"{when}"' if when else "", *effects, str(priority), stack]))
    path.write_text("\n".join(rows) + "\n")


def make_quote(lines: int, seed: int, with_option: bool = True) -> tuple[QuoteRequest, PricingContext]:
    rnd = random.Random(seed)
    out = []
    for n in range(lines):
        f, p = rnd.randrange(FAMILIES), rnd.randrange(PRODUCTS_PER_FAMILY)
        first = p * (OPTIONS_PER_FAMILY // PRODUCTS_PER_FAMILY)
        option = _sku(f, first + rnd.randrange(OPTIONS_PER_FAMILY // PRODUCTS_PER_FAMILY))
        out.append(QuoteLine(id=str(n + 1), product=_product(f, p), quantity=rnd.randint(1, 30),
                             options=(OptionChoice(option, rnd.randint(1, 3)),) if with_option else ()))
    request = QuoteRequest(currency="USD", lines=tuple(out))
    context = PricingContext(on=ON, account={"id": "A1", "segment": "enterprise"},
                             context={"channel": "partner", "partner": "P1", "country": "C03"})
    return request, context


class _NaiveIndex:
    """The baseline: no index and no cache; every rule of the chain is judged for every item."""

    def __init__(self, index: ChainIndex):
        self.index = index
        self.quote_rules = ()  # quote-level conditions are judged per item, by closure, like the rest
        self.quote_wide = ()

    def plan(self, chain, sku, on, account, parent) -> ItemPlan:
        real = self.index.plan(chain, sku, on, account, parent)  # for its names and entries' texts, not its rules
        return dataclasses.replace(real, source=find_price(chain, sku, on), ops=None, wide=None,
                                   candidates=self.candidates(sku, real.category, real.family, account, parent))

    def adjustments(self, plan, wide, wide_key) -> tuple:
        return adjustment_ops(plan.candidates.groups)  # no quote-wide rules: they are judged per item here

    def candidates(self, sku, category, family, account, parent) -> Candidates:
        groups: dict[int, list] = {}
        floors = []
        for r in self.index.rules:
            if r.targets(sku, category, family) and (not r.accounts or account in r.accounts or parent in r.accounts):
                if r.kind == "floor":
                    floors.append(r)
                else:
                    groups.setdefault(r.priority, []).append(r)
        return Candidates(tuple(sorted(groups.items())), tuple(floors))


def price_naive(ruleset, request, context):
    """price_quote with the index replaced by a scan of every rule, and no quote-level engine."""
    original_holds = pricing_engine._Pricer._holds
    original_run = pricing_engine._Pricer.run

    def holds(self, rule, item, fired):
        if not self._effective(rule):
            return False
        return rule.when is None or bool(rule.when.fn(item.env))

    def run(self):
        real = self.program.chain_index

        def naive_index(book_ids):
            return _NaiveIndex(real(book_ids))

        self.program = _ProgramView(self.program, naive_index)
        return original_run(self)

    pricing_engine._Pricer._holds = holds
    pricing_engine._Pricer.run = run
    try:
        return price_quote(ruleset, request, context)
    finally:
        pricing_engine._Pricer._holds = original_holds
        pricing_engine._Pricer.run = original_run


class _ProgramView:
    def __init__(self, program, chain_index):
        self._program = program
        self.chain_index = chain_index

    def __getattr__(self, name):
        return getattr(self._program, name)


CPU: list[float] = []  # CPU milliseconds of the last `timings` call (the machine is shared: wall time is noisy)


def timings(fn, runs: int) -> list[float]:
    """Wall milliseconds of `runs` calls; their CPU milliseconds are left in CPU."""
    out = []
    CPU.clear()
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - started) * 1000)
        CPU.append((time.process_time() - cpu) * 1000)
    return out


def p(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def load(rules: int, tables: bool = True) -> tuple[object, dict, dict]:
    """Write and load the catalog; the figures: whole load, the product files alone, and the compile."""
    with tempfile.TemporaryDirectory(prefix="cpq-bench-") as tmp:
        folder = Path(tmp)
        counts = write_catalog(folder, rules, tables=tables)
        _, catalog_wall, catalog_cpu = _timed(lambda: load_ruleset([folder / "rules"]))
        ruleset, wall, cpu = _timed(lambda: load_ruleset([folder / "rules", folder / "pricebooks"]))
    _, compile_wall, compile_cpu = _timed(lambda: pricing_program(ruleset).chain_index(
        ("bench-contract", "bench-partner", "bench-list")).quote_program())
    figures = {"load": (wall, cpu), "catalog": (catalog_wall, catalog_cpu), "compile": (compile_wall, compile_cpu)}
    return ruleset, counts, figures


def _load_average() -> str:
    """The 1, 5 and 15-minute load averages, printed beside the figures (the machine is shared)."""
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _load_line(form: str, counts: dict, figures: dict) -> str:
    (wall, cpu), (cwall, ccpu), (kwall, kcpu) = figures["load"], figures["catalog"], figures["compile"]
    return (f"  {form:<18} load_ruleset {wall:6.2f} s (CPU {cpu:6.2f} s) = product files {cwall:5.2f} s "
            f"(CPU {ccpu:5.2f}) + pricebooks {wall - cwall:5.2f} s (CPU {cpu - ccpu:5.2f}); "
            f"pricing compile {kwall:4.2f} s (CPU {kcpu:4.2f}); pricebooks + compile {wall - cwall + kwall:5.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--naive-runs", type=int, default=3, help="repetitions of the naive 1,000-line quote")
    parser.add_argument("--no-yaml-baseline", action="store_true",
                        help="skip loading the all-YAML form of the 20,000-rule catalog (the load baseline)")
    args = parser.parse_args()
    runs = {10: 200, 100: 50, 1000: 20} if not args.quick else {10: 30, 100: 10, 1000: 5}

    catalogs = {}
    for rules in (20_000, 40_000):
        if rules == 20_000 and not args.no_yaml_baseline:
            baseline, counts, figures = load(rules, tables=False)
            print(f"catalog: {counts['skus']:,} SKUs, {counts['price_entries']:,} price entries, {rules:,} rules"
                  f" ({_load_average()})")
            print(_load_line("all YAML (before)", counts, figures), flush=True)
            del baseline
        ruleset, counts, figures = load(rules)
        if rules != 20_000 or args.no_yaml_baseline:
            print(f"catalog: {counts['skus']:,} SKUs, {counts['price_entries']:,} price entries, {rules:,} rules"
                  f" ({_load_average()})")
        print(_load_line("CSV tables", counts, figures), flush=True)
        catalogs[rules] = ruleset
    # Both catalogs are priced alternately, quote by quote, so that the doubling ratio compares two
    # figures taken under the same load (one after the other, a change of load passed for a cost).
    print(f"quotes, 20,000 and 40,000 rules priced alternately ({_load_average()})", flush=True)
    shapes = [(f"{n:>5} lines", make_quote(n, seed=n), n) for n in (10, 100, 1000)]
    shapes.append(("   1000 lines of one item (product only)", make_quote(1000, seed=1000, with_option=False), 1000))
    for label, (request, context), lines in shapes:
        for ruleset in catalogs.values():
            price_quote(ruleset, request, context)  # warm the candidate cache once, as a live service is
        measured = alternately(catalogs, request, context, runs[lines])
        (wall, cpu), (wall2, cpu2) = measured[20_000], measured[40_000]
        line = f"  {label}  engine p50 {p(wall, 50):8.2f} ms  p95 {p(wall, 95):8.2f} ms (CPU p50 {p(cpu, 50):7.2f} ms)"
        if "one item" not in label:
            ruleset = catalogs[20_000]
            naive_runs = args.naive_runs if lines == 1000 else max(3, runs[lines] // 10)
            naive = timings(lambda s=ruleset, r=request, c=context: price_naive(s, r, c), naive_runs)
            same = _same(price_quote(ruleset, request, context), price_naive(ruleset, request, context))
            line += (f"   naive p50 {p(naive, 50):9.2f} ms (CPU {p(CPU, 50):9.2f})"
                     f"   speed-up {p(naive, 50) / p(wall, 50):6.1f}× (CPU {p(CPU, 50) / p(cpu, 50):6.1f}×)"
                     f"   same prices: {same}")
        print(line)
        print(f"  {'':<{len(label)}}  40,000 rules p50 {p(wall2, 50):8.2f} ms (CPU p50 {p(cpu2, 50):7.2f} ms)"
              f"   vs 20,000 rules: {p(wall2, 50) / p(wall, 50):.2f}× (CPU {p(cpu2, 50) / p(cpu, 50):.2f}×)", flush=True)
    # a count that does not depend on the load: Python function calls for five 1,000-line quotes
    (request, context), ruleset = shapes[2][1], catalogs[20_000]
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [price_quote(ruleset, request, context) for _ in range(5)])
    print(f"     1000 lines  function calls for five quotes (cProfile, 20,000 rules): "
          f"{sum(entry.callcount for entry in profiler.getstats()):,}")
    for rules, ruleset in catalogs.items():
        cold_request, cold_context = make_quote(1000, seed=99)
        cold = timings(lambda s=ruleset, r=cold_request, c=cold_context: price_quote(s, r, c), 1)
        print(f"  {rules:,} rules: 1000 lines, first quote of new SKUs (candidate cache cold): {cold[0]:.2f} ms "
              f"(CPU {CPU[0]:.2f})")
    print(f"  ({_load_average()})")


def alternately(catalogs: dict, request, context, runs: int) -> dict:
    """Wall and CPU milliseconds per catalog of `runs` rounds, each round pricing the quote once per catalog."""
    out = {rules: ([], []) for rules in catalogs}
    for _ in range(runs):
        for rules, ruleset in catalogs.items():
            wall = timings(lambda s=ruleset: price_quote(s, request, context), 1)
            out[rules][0].append(wall[0])
            out[rules][1].append(CPU[0])
    return out


def _same(a, b) -> bool:
    return [i.net for line in a.lines for i in line.items] == [i.net for line in b.lines for i in line.items]


if __name__ == "__main__":
    main()
