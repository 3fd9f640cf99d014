"""CSV tables beside a pricebook: prices and adjustment rules load like their YAML form, errors are exact."""

from __future__ import annotations

from datetime import date

import pytest

from cpq.errors import RulesetInvalid
from cpq.pricing.engine import price_quote
from cpq.pricing.request import OptionChoice, PricingContext, QuoteLine, QuoteRequest
from cpq.ruleset.loader import load_ruleset

PRODUCT = """
format: 1
kind: product
family: servers
category: hardware
attributes: {watts: integer}
options:
  CPU-A: {name: Small CPU, attributes: {watts: 100}}
  CPU-B: {name: Big CPU, attributes: {watts: 300}, quantity: {min: 1, max: 40}}
  SSD-1: {name: SSD, category: storage, quantity: {min: 1, max: 40}}
  SUP-1: {name: Support, category: services}
products:
  SRV:
    name: Server
    features:
      cpu: {label: Processor, min: 1, max: 1, quantity: true, options: [CPU-A, CPU-B], default: CPU-A}
      drives: {label: Drives, min: 0, max: 1, quantity: true, options: [SSD-1]}
      support: {label: Support, min: 0, max: 1, options: [SUP-1]}
"""

BOOK = """
format: 1
kind: pricebook
id: list-usd
currency: USD
price_tables: [list-usd-prices.csv]
adjustment_tables: [list-usd-rules.csv]
"""

PRICES = """
sku,unit,cost,effective_from,effective_to,charge,term_months,tiers,scope,band_from,band_to,flat
SRV,1000.00,600.00,,2026-06-30,,,,,,,
SRV,1100.00,650.00,2026-07-01,,,,,,,,
CPU-A,100,,,,,,,,,,
CPU-B,7.00,,,,,,graduated,line,1,5,
CPU-B,6.50,,,,,,graduated,,6,,
SSD-1,50.00,,,,,,volume,product,1,9,5.00
SSD-1,45.00,,,,,,volume,,10,,
SUP-1,30.00,,,,monthly,12,,,,,
"""

RULES = """
id,label,products,categories,discount,amount_off,when,priority,stack
srv-promo,Server promotion,SRV,,5%,,,10,compound
storage-deal,Storage deal,,storage,,"1.00","line.quantity >= 12",20,
big-cpu,,CPU-B,,10%,,"line.quantity >= 6 and account.segment == 'enterprise'",30,
"""

# the same book, all in YAML
YAML_BOOK = """
format: 1
kind: pricebook
id: list-usd
currency: USD
prices:
  SRV:
    - {unit: "1000.00", cost: "600.00", effective: {to: 2026-06-30}}
    - {unit: "1100.00", cost: "650.00", effective: {from: 2026-07-01}}
  CPU-A: "100"
  CPU-B:
    tiers: graduated
    scope: line
    bands:
      - {from: 1, to: 5, unit: "7.00"}
      - {from: 6, unit: "6.50"}
  SSD-1:
    tiers: volume
    scope: product
    bands:
      - {from: 1, to: 9, unit: "50.00", flat: "5.00"}
      - {from: 10, unit: "45.00"}
  SUP-1: {unit: "30.00", charge: monthly, term_months: 12}
adjustments:
  - {id: srv-promo, label: Server promotion, applies_to: {products: [SRV]}, discount: 5%, priority: 10, stack: compound}
  - {id: storage-deal, label: Storage deal, applies_to: {categories: [storage]}, amount_off: "1.00",
     when: "line.quantity >= 12", priority: 20}
  - id: big-cpu
    applies_to: {products: [CPU-B]}
    discount: 10%
    when: "line.quantity >= 6 and account.segment == 'enterprise'"
    priority: 30
"""


def table_set(book=BOOK, prices=PRICES, rules=RULES, **more):
    files = {"rules/servers.yaml": PRODUCT, "pricebooks/list-usd.yaml": book,
             "pricebooks/list-usd-prices.csv": prices, "pricebooks/list-usd-rules.csv": rules}
    files.update(more)
    return {k: v for k, v in files.items() if v is not None}


def errors(write_files, files):
    base = write_files(files)
    with pytest.raises(RulesetInvalid) as info:
        load_ruleset([base])
    return [str(e).replace(f"{base}/", "") for e in info.value.errors]


def quote(on: date):
    lines = (
        QuoteLine(id="1", product="SRV", quantity=2,
                  options=(OptionChoice("CPU-B", 4), OptionChoice("SSD-1", 3), OptionChoice("SUP-1", 1))),
        QuoteLine(id="2", product="SRV", quantity=1, options=(OptionChoice("CPU-A", 1), OptionChoice("SSD-1", 12))),
    )
    return QuoteRequest(currency="USD", lines=lines), PricingContext(on=on, account={"segment": "enterprise"})


def test_price_and_rule_tables_load_into_the_book(write_files):
    ruleset = load_ruleset([write_files(table_set())])
    book = ruleset.pricebooks["list-usd"]
    srv = book.prices["SRV"]
    assert [(e.unit, e.cost, e.effective.start, e.effective.end) for e in srv] == [
        (pytest.approx(1000), pytest.approx(600), None, date(2026, 6, 30)),
        (pytest.approx(1100), pytest.approx(650), date(2026, 7, 1), None)]
    assert str(srv[1].unit) == "1100.00"
    cpu = book.prices["CPU-B"][0].tiers
    assert (cpu.mode, cpu.scope, [(b.first, b.last, str(b.unit)) for b in cpu.bands]) == (
        "graduated", "line", [(1, 5, "7.00"), (6, None, "6.50")])
    assert [str(b.flat) for b in book.prices["SSD-1"][0].tiers.bands] == ["5.00", "None"]
    assert (book.prices["SUP-1"][0].charge, book.prices["SUP-1"][0].term_months) == ("monthly", 12)
    assert [(a.id, a.kind, str(a.value), a.priority, a.stack) for a in book.adjustments] == [
        ("srv-promo", "discount", "0.05", 10, "compound"), ("storage-deal", "amount_off", "1.00", 20, None),
        ("big-cpu", "discount", "0.1", 30, None)]
    assert book.adjustments[1].applies_to.categories == ("storage",)
    assert str(book.adjustments[2].source).endswith("pricebooks/list-usd-rules.csv:4:1")
    assert str(book.prices["CPU-B"][0].source).endswith("pricebooks/list-usd-prices.csv:5:1")


@pytest.mark.parametrize("on", [date(2026, 3, 1), date(2026, 9, 1)])
def test_prices_from_tables_equal_prices_from_the_same_book_in_yaml(write_files, on):
    from_tables = load_ruleset([write_files(table_set(), "tables")])
    from_yaml = load_ruleset([write_files({"rules/servers.yaml": PRODUCT, "pricebooks/list-usd.yaml": YAML_BOOK},
                                          "yaml")])
    a, b = (price_quote(r, *quote(on)) for r in (from_tables, from_yaml))

    def priced(q):
        return [(i.sku, i.net, i.total, [(s.kind, s.after, s.rule_id, s.note) for s in i.steps])
                for line in q.lines for i in line.items]

    assert priced(a) == priced(b)
    assert a.totals == b.totals
    # the tables did price something: tiers, the dated server price and the rules all show
    steps = {s.rule_id for line in a.lines for i in line.items for s in i.steps}
    assert {"srv-promo", "storage-deal", "big-cpu"} <= steps
    assert a.lines[0].items[0].steps[0].after == (2000 if on.month < 7 else 2200)


def test_the_version_changes_when_a_table_changes(write_files):
    first = load_ruleset([write_files(table_set(), "a")])
    same = load_ruleset([write_files(table_set(), "b")])
    changed = load_ruleset([write_files(table_set(prices=PRICES.replace("CPU-A,100,", "CPU-A,101,")), "c")])
    assert first.version == same.version
    assert changed.version != first.version
    assert changed.pricebooks["list-usd"].prices["CPU-A"][0].unit == 101
    assert {f.kind for f in first.files} == {"product", "pricebook", "table"}


def test_a_table_reads_quotes_a_byte_order_mark_crlf_and_padded_cells(write_files):
    prices = "\ufeffSKU , Unit\r\nSRV, \"1,000.00\"\r\nCPU-A , 100 \r\n\r\n,\r\n"
    found = errors(write_files, table_set(prices=prices, rules="id,discount\n"))
    assert found == ["pricebooks/list-usd-prices.csv:2:6: SRV: unit: '1,000.00' is not an amount"]
    ruleset = load_ruleset([write_files(table_set(prices=prices.replace("1,000.00", "1000.00"),
                                                  rules="id,discount\n"), "ok")])
    assert [str(e.unit) for e in ruleset.pricebooks["list-usd"].prices["SRV"]] == ["1000.00"]


PRICE_MISTAKES = [
    ("sku,unti\nSRV,1\n", "1:5: list-usd: unknown column 'unti' (did you mean 'unit'?)"),
    ("sku,unit,unit\nSRV,1,2\n", "1:10: list-usd: duplicate column 'unit' (first at column 5)"),
    ("unit\n1\n", "1:1: list-usd: missing required column 'sku'"),
    ("sku,unit,\nSRV,1,\n", "1:10: list-usd: a column without a name; name it or remove the empty cell"),
    ("sku,unit\nSRV,1,2\n", "2:1: list-usd: row has 3 cells for 2 columns"),
    ("sku,unit\nSRV,12.5x\n", "2:5: SRV: unit: '12.5x' is not an amount"),
    ("sku,unit,effective_to\nSRV,1,2026-02-30\n", "2:7: SRV: effective_to: '2026-02-30' is not a date (YYYY-MM-DD)"),
    ("sku,unit,charge,term_months\nSRV,1,monthly,twelve\n", "2:15: SRV: term_months: not a valid integer"),
    ("sku,unit,charge,term_months\nSRV,1,monthly,0\n", "2:15: SRV: term_months: must be greater than or equal to 1"),
    ("sku,unit,charge\nSRV,1,weekly\n", "2:7: SRV: charge: must be one of: one_time, monthly, annual"),
    ("sku,unit,charge\nSRV,1,monthly\n", "2:7: SRV: recurring prices need 'term_months'"),
    ("sku,unit\n,1\n", "2:1: list-usd: missing required field 'sku'"),
    ("sku,unit\nSRV-X,1\n", "2:1: list-usd: price for unknown product or option 'SRV-X' (did you mean 'SRV'?)"),
    ("sku,unit,cost\nSRV,,5\n", "2:1: SRV: a price row needs a 'unit' price (or a 'tiers' mode and a band)"),
    ("sku,unit,band_from\nSRV,1,1\n", "2:7: SRV: 'band_from' belong to tiered prices (rows with a 'tiers' mode)"),
    ("sku,unit,tiers\nSRV,1,volume\n", "2:7: SRV: a band row needs 'band_from'"),
    ("sku,tiers,band_from\nSRV,volume,1\n", "2:5: SRV: a band needs a 'unit' price, a 'flat' fee or both"),
    ("sku,unit,tiers,band_from,overage_unit\nSRV,1,volume,1,2\n", "2:16: SRV: 'overage' applies to block tiers only"),
    ("sku,unit,tiers,band_from,band_to,scope\nSRV,2,volume,1,4,\nSRV,1,volume,5,,product\n",
     "3:17: SRV: scope: differs from the first band of this tier table (line 2); give it on the first band only"),
    ("sku,unit,tiers,band_from,band_to\nSRV,2,volume,1,4\nSRV,1,volume,6,\n",
     "3:1: list-usd: tier table for 'SRV' has a gap: band starts at 6, expected 5"),
    ("sku,unit,tiers,band_from,band_to\nSRV,2,volume,1,4\nSRV,1,volume,5,9\n",
     "3:1: list-usd: volume tiers for 'SRV' end at 9: leave 'to' off the last band so that every quantity has a price"),
    ("sku,unit,effective_from\nSRV,1,\nSRV,2,2026-07-01\n", "3:1: list-usd: prices for 'SRV' overlap in time (with line 2)"),
    ("sku,unit\nSRV,\"1\n", "2:5: list-usd: CSV syntax error: a quoted cell is not closed on its line "
                          "(cells cannot span lines)"),
    ("sku,unit\nSRV,\"1\"0\n", "2:8: list-usd: CSV syntax error: text after a quoted cell; put the whole cell in quotes"),
    ("\n\n", "1:1: list-usd: the table is empty; its first line names the columns (sku, …)"),
]


@pytest.mark.parametrize(("table", "expected"), PRICE_MISTAKES, ids=[e.split(": ", 2)[-1][:40] for _, e in PRICE_MISTAKES])
def test_each_mistake_in_a_price_table_has_an_exact_message(write_files, table, expected):
    assert errors(write_files, table_set(prices=table)) == [f"pricebooks/list-usd-prices.csv:{expected}"]


RULE_MISTAKES = [
    ("id,discount\n,5%\n", "2:1: list-usd: missing required field 'id'"),
    ("id,discount\n1st-rule,5%\n",
     "2:1: list-usd: id: ids start with a letter and use letters, digits, '_' and single '-' between them"),
    ("id,discount,markup\nr1,5%,2%\n", "2:7: r1: an adjustment has exactly one of discount, markup, amount_off, price"),
    ("id,label\nr1,Nothing\n", "2:1: r1: an adjustment has exactly one of discount, markup, amount_off, price"),
    ("id,discount\nr1,5\n", "2:4: r1: discount: must be a percentage such as \"5%\""),
    ("id,discount,priority\nr1,5%,high\n", "2:7: r1: priority: not a valid integer"),
    ("id,discount,stack\nr1,5%,stacked\n", "2:7: r1: stack: must be one of: compound, additive, best, exclusive"),
    ("id,discount,products\nr1,5%,CPU-A CPU-C\n",
     "2:13: r1: applies_to names unknown product 'CPU-C' (did you mean 'CPU-B'?)"),
    ("id,discount,categories\nr1,5%,storage strage\n",
     "2:15: r1: applies_to names unknown category 'strage' (did you mean 'storage'?)"),
    ("id,discount,when\nr1,5%,\"line.quantity >= 5 and line.quantty < 9\"\n",
     "2:31: r1: unknown line field 'line.quantty' (did you mean 'line.quantity'?)"),
    ("id,discount,when\nr1,5%,line.quantity >= five\n", "2:24: r1: unknown name 'five'"),
    ("id,discount,priority\nr1,5%,1\nr2,3%,1\n",
     "3:1: r2: 'r1' and 'r2' can apply to the same line at priority 1; give them different priorities or a 'stack' policy"),
    ("id,discount,priority\nr1,5%,1\nr1,3%,2\n",
     "3:1: r1: duplicate adjustment id 'r1' (first defined at {base}pricebooks/list-usd-rules.csv:2:1)"),
]


@pytest.mark.parametrize(("table", "expected"), RULE_MISTAKES, ids=[e.split(": ", 2)[-1][:40] for _, e in RULE_MISTAKES])
def test_each_mistake_in_an_adjustment_table_has_an_exact_message(write_files, table, expected):
    base = write_files(table_set(rules=table))
    with pytest.raises(RulesetInvalid) as info:
        load_ruleset([base])
    found = [str(e).replace(f"{base}/", "") for e in info.value.errors]
    assert found == [f"pricebooks/list-usd-rules.csv:{expected}".replace("{base}", "")]


def test_a_sku_priced_in_the_yaml_and_in_a_table_is_an_error(write_files):
    book = BOOK + "prices:\n  CPU-A: \"99.00\"\n"
    assert errors(write_files, table_set(book=book)) == [
        "pricebooks/list-usd-prices.csv:4:1: list-usd: 'CPU-A' is already priced at "
        f"{write_files({}, 'set')}/pricebooks/list-usd.yaml:8:3; a book prices a SKU in one place"
        .replace(f"{write_files({}, 'set')}/", "")]


def test_a_rule_id_used_in_yaml_and_in_a_table_is_a_duplicate(write_files):
    book = BOOK + "adjustments:\n  - {id: srv-promo, discount: 1%, priority: 99}\n"
    found = errors(write_files, table_set(book=book))
    assert found == ["pricebooks/list-usd-rules.csv:2:1: srv-promo: duplicate adjustment id 'srv-promo' "
                     f"(first defined at {write_files({}, 'set')}/pricebooks/list-usd.yaml:8:5)"
                     .replace(f"{write_files({}, 'set')}/", "")]


def test_a_missing_table_suggests_the_one_beside_the_book(write_files):
    book = BOOK.replace("list-usd-prices.csv", "list-usd-price.csv")
    assert errors(write_files, table_set(book=book)) == [
        "pricebooks/list-usd-prices.csv:1:1: -: no pricebook names this table; "
        "list it under 'price_tables' or 'adjustment_tables'",
        "pricebooks/list-usd.yaml:5:16: list-usd: no table 'list-usd-price.csv' beside this pricebook "
        "(tables are .csv files among the rule files) (did you mean 'list-usd-prices.csv'?)",
    ]


def test_a_table_named_by_two_books_is_an_error(write_files):
    other = "format: 1\nkind: pricebook\nid: other-usd\ncurrency: USD\nprice_tables: [list-usd-prices.csv]\n"
    found = errors(write_files, table_set(**{"pricebooks/other.yaml": other}))
    assert len(found) == 1
    assert found[0].startswith("pricebooks/other.yaml:5:16: other-usd: table 'list-usd-prices.csv' is already "
                               "used by pricebook 'list-usd' (")


def test_a_table_is_named_as_a_csv_file(write_files):
    book = BOOK.replace("[list-usd-prices.csv]", "[list-usd-prices.xlsx]")
    found = errors(write_files, table_set(book=book))
    assert "pricebooks/list-usd.yaml:5:16: list-usd: a table is a .csv file named relative to this " \
           "pricebook, e.g. 'list-usd-prices.csv'" in found


def test_every_bad_row_of_a_table_is_reported_and_the_good_rows_still_judged(write_files):
    table = "sku,unit\nSRV,x\nCPU-A,1\nCPU-Z,2\nSSD-1,\n"
    assert errors(write_files, table_set(prices=table)) == [
        "pricebooks/list-usd-prices.csv:2:5: SRV: unit: 'x' is not an amount",
        "pricebooks/list-usd-prices.csv:4:1: list-usd: price for unknown product or option 'CPU-Z' "
        "(did you mean 'CPU-B'?)",
        "pricebooks/list-usd-prices.csv:5:1: SSD-1: a price row needs a 'unit' price (or a 'tiers' mode and a band)",
    ]
