"""Loading rule files: a valid set becomes a Ruleset; every kind of mistake is reported exactly."""

from __future__ import annotations

import pytest
import sympy

from cpq.errors import RulesetInvalid
from cpq.ruleset.loader import load_ruleset
from cpq.ruleset.scopes import bind_text_fields, qty, sel

PRODUCT = """
format: 1
kind: product
family: servers
category: hardware
attributes: {watts: integer, capacity: integer}
options:
  CPU-A: {name: Small CPU, attributes: {watts: 100}}
  CPU-B: {name: Big CPU, attributes: {watts: 300}}
  SSD-1: {name: SSD, category: storage, attributes: {watts: 10}, quantity: {min: 1, max: 4}}
  PSU-S: {name: Small PSU, attributes: {capacity: 400}}
  PSU-L: {name: Large PSU, attributes: {capacity: 800}}
products:
  SRV:
    name: Server
    features:
      cpu: {label: Processor, min: 1, max: 1, options: [CPU-A, CPU-B], default: CPU-A}
      drives: {label: Drives, min: 0, max: 1, quantity: true, options: [SSD-1]}
      psu: {label: Power, min: 1, max: 1, options: [PSU-S, PSU-L]}
    constraints:
      - id: big-cpu-big-psu
        requires: {if: CPU-B, then: [PSU-L]}
      - id: power
        check: "sum(watts * qty) <= psu.capacity * 80%"
        message: Not enough power.
      - id: web-no-big
        when: "context.channel == 'web'"
        then: "not CPU-B"
"""

BOOK = """
format: 1
kind: pricebook
id: list-usd
currency: USD
prices:
  SRV: "1000.00"
  CPU-A: "100.00"
  CPU-B:
    tiers: graduated
    bands:
      - {from: 1, to: 5, unit: "7.00"}
      - {from: 6, unit: "6.50"}
  SSD-1: "50"
  PSU-S: "10"
  PSU-L: "20"
"""


def load(write_files, files):
    base = write_files(files)
    return base, load_ruleset([base])


def errors(write_files, files):
    base = write_files(files)
    with pytest.raises(RulesetInvalid) as info:
        load_ruleset([base])
    return [str(e).replace(f"{base}/", "") for e in info.value.errors]


def test_a_valid_product_and_pricebook_load_into_a_ruleset(write_files):
    _, ruleset = load(write_files, {"rules/servers.yaml": PRODUCT, "pricebooks/list.yaml": BOOK})
    product = ruleset.products["SRV"]
    assert [f.id for f in product.features] == ["cpu", "drives", "psu"]
    assert ruleset.options["SSD-1"].quantity.max == 4
    assert ruleset.options["SSD-1"].category == "storage"
    assert ruleset.options["CPU-A"].category == "hardware"
    assert ruleset.pricebooks["list-usd"].prices["CPU-B"][0].tiers.mode == "graduated"
    assert ruleset.summary_line().startswith("1 products, 5 options, 3 constraints, 6 prices, 0 rules — version ")


def test_constraints_compile_to_sympy_formulas_that_judge_configurations(write_files):
    _, ruleset = load(write_files, {"rules/servers.yaml": PRODUCT, "pricebooks/list.yaml": BOOK})
    constraints = {c.id: c for c in ruleset.products["SRV"].constraints}

    def config(*chosen, drives=0):
        values = {sel(o): o in chosen for o in ruleset.options}
        values |= {qty(o): (1 if o in chosen else 0) for o in ruleset.options}
        values[sel("SSD-1")], values[qty("SSD-1")] = drives > 0, drives
        return values

    requires = constraints["big-cpu-big-psu"].formula
    assert requires.subs(config("CPU-B", "PSU-L")) == sympy.true
    assert requires.subs(config("CPU-B", "PSU-S")) == sympy.false
    power = constraints["power"].formula
    assert power.subs(config("CPU-A", "PSU-S", drives=4)) == sympy.true  # 140 W <= 320 W
    assert power.subs(config("CPU-B", "PSU-S", drives=3)) == sympy.false  # 330 W > 320 W
    assert power.subs(config("CPU-B", "PSU-L", drives=4)) == sympy.true  # 340 W <= 640 W
    web = constraints["web-no-big"].formula.subs(config("CPU-B", "PSU-L"))
    assert bind_text_fields(web, {"context.channel": "web"}) == sympy.false
    assert bind_text_fields(web, {"context.channel": "direct"}) == sympy.true


def test_yaml_syntax_error_names_file_line_and_column(write_files):
    assert errors(write_files, {"rules/a.yaml": "format: 1\nkind: product\noptions: {A: [1, 2\n"}) == [
        "rules/a.yaml:3:14: -: YAML syntax error: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence)"
    ]


def test_unknown_option_in_a_feature_suggests_the_closest(write_files):
    bad = PRODUCT.replace("options: [PSU-S, PSU-L]", "options: [PSU-S, PSU-XL]")
    assert errors(write_files, {"rules/a.yaml": bad}) == [
        "rules/a.yaml:18:60: SRV: feature 'psu' lists unknown option 'PSU-XL' (did you mean 'PSU-L'?)",
        "rules/a.yaml:21:38: big-cpu-big-psu: unknown option 'PSU-L' (did you mean 'PSU-S'?)",
    ]


def test_unknown_option_in_a_constraint(write_files):
    bad = PRODUCT.replace("then: [PSU-L]", "then: [PSU-LL]")
    assert errors(write_files, {"rules/a.yaml": bad}) == [
        "rules/a.yaml:21:38: big-cpu-big-psu: unknown option 'PSU-LL' (did you mean 'PSU-L'?)",
    ]


def test_duplicate_rule_id_points_at_the_first_definition(write_files):
    bad = PRODUCT.replace("- id: power", "- id: big-cpu-big-psu")
    assert errors(write_files, {"rules/a.yaml": bad}) == [
        "rules/a.yaml:22:9: big-cpu-big-psu: duplicate constraint id 'big-cpu-big-psu' (first defined at rules/a.yaml:20:9)",
    ]


def test_duplicate_id_across_files_names_both_places(write_files):
    other = PRODUCT.replace("family: servers", "family: other").replace("  SRV:\n", "  SRV-2:\n")
    other = other.replace("id: power", "id: power-2").replace("id: big-cpu-big-psu", "id: b2").replace("id: web-no-big", "id: w2")
    base = write_files({"rules/a.yaml": PRODUCT, "rules/b.yaml": other})
    with pytest.raises(RulesetInvalid) as info:
        load_ruleset([base])
    lines = [str(e).replace(f"{base}/", "") for e in info.value.errors]
    assert lines[0] == "rules/b.yaml:7:3: CPU-A: duplicate option id 'CPU-A' (first defined at rules/a.yaml:7:3)"
    assert len(lines) == 5  # the five options defined twice


def test_tier_table_with_a_gap_and_an_overlap(write_files):
    bad = BOOK.replace('{from: 6, unit: "6.50"}', '{from: 7, to: 9, unit: "6.50"}\n      - {from: 9, unit: "6.00"}')
    assert errors(write_files, {"rules/a.yaml": PRODUCT, "pricebooks/b.yaml": bad}) == [
        "pricebooks/b.yaml:12:9: list-usd: tier table for 'CPU-B' has a gap: band starts at 7, expected 6",
        "pricebooks/b.yaml:13:9: list-usd: tier table for 'CPU-B' has an overlap: band starts at 9, expected 10",
    ]


def test_open_band_before_the_last_is_an_error(write_files):
    bad = BOOK.replace("{from: 1, to: 5,", "{from: 1,")
    assert errors(write_files, {"rules/a.yaml": PRODUCT, "pricebooks/b.yaml": bad}) == [
        "pricebooks/b.yaml:11:9: list-usd: only the last tier band for 'CPU-B' may be open-ended",
    ]


def test_pricebooks_extending_each_other_are_a_cycle(write_files):
    a = BOOK.replace("currency: USD", "currency: USD\nextends: partner")
    b = "format: 1\nkind: pricebook\nid: partner\nextends: list-usd\nprices: {SRV: '900'}\n"
    assert errors(write_files, {"rules/a.yaml": PRODUCT, "pricebooks/a.yaml": a, "pricebooks/b.yaml": b}) == [
        "pricebooks/a.yaml:5:10: list-usd: pricebooks extend each other in a cycle: list-usd -> partner -> list-usd",
        "pricebooks/b.yaml:4:10: partner: pricebooks extend each other in a cycle: partner -> list-usd -> partner",
    ]


def test_type_error_in_an_expression_is_located_inside_the_expression(write_files):
    bad = PRODUCT.replace('"sum(watts * qty) <= psu.capacity * 80%"', '"sum(watts * qty) <= psu.capacity and CPU-A + 1"')
    assert errors(write_files, {"rules/a.yaml": bad}) == [
        "rules/a.yaml:23:54: power: '+' needs a number value, got yes/no",
        "rules/a.yaml:23:54: power: 'and' needs a yes/no value, got number",
    ]


def test_unknown_name_in_an_expression_suggests_a_known_one(write_files):
    bad = PRODUCT.replace("context.channel == 'web'", "contxt.channel == 'web'")
    assert errors(write_files, {"rules/a.yaml": bad}) == [
        "rules/a.yaml:26:16: web-no-big: unknown name 'contxt.channel' (did you mean 'context.channel'?)",
    ]


def test_unknown_field_suggests_the_right_spelling(write_files):
    bad = PRODUCT.replace("message: Not enough power.", "mesage: Not enough power.")
    assert errors(write_files, {"rules/a.yaml": bad}) == [
        "rules/a.yaml:24:9: power: unknown field 'mesage' (did you mean 'message'?)",
    ]


def test_group_whose_min_exceeds_its_option_count(write_files):
    bad = PRODUCT.replace("psu: {label: Power, min: 1,", "psu: {label: Power, min: 3,")
    assert errors(write_files, {"rules/a.yaml": bad}) == [
        "rules/a.yaml:18:32: SRV: feature 'psu' has min 3 greater than max 1",
        "rules/a.yaml:18:32: SRV: feature 'psu' needs at least 3 options but lists only 2",
    ]


def test_attribute_of_the_wrong_declared_type(write_files):
    bad = PRODUCT.replace("attributes: {capacity: 400}", "attributes: {capacity: big}")
    assert errors(write_files, {"rules/a.yaml": bad}) == [
        "rules/a.yaml:10:51: PSU-S: attribute 'capacity' is declared integer, got 'big'",
    ]


def test_unsupported_format_version(write_files):
    assert errors(write_files, {"rules/a.yaml": PRODUCT.replace("format: 1", "format: 2")}) == [
        "rules/a.yaml:1:9: servers: format: unsupported format 2; this version reads format: 1",
    ]


def test_same_priority_adjustments_without_stacking_are_a_load_time_error(write_files):
    book = BOOK + "adjustments:\n  - {id: promo-a, discount: 5%, priority: 10}\n  - {id: promo-b, discount: 3%, priority: 10}\n"
    assert errors(write_files, {"rules/a.yaml": PRODUCT, "pricebooks/b.yaml": book}) == [
        "pricebooks/b.yaml:18:5: promo-b: 'promo-a' and 'promo-b' can apply to the same line at priority 10; "
        "give them different priorities or a 'stack' policy",
    ]


def test_every_error_is_reported_in_one_pass(write_files):
    bad = (PRODUCT.replace("then: [PSU-L]", "then: [PSU-LL]")
           .replace("message: Not enough power.", "mesage: x")
           .replace("contxt", "context").replace("context.channel", "contxt.channel"))
    assert len(errors(write_files, {"rules/a.yaml": bad})) == 3


def test_nothing_is_half_loaded(write_files):
    bad = PRODUCT.replace("then: [PSU-L]", "then: [PSU-LL]")
    base = write_files({"rules/a.yaml": bad, "pricebooks/b.yaml": BOOK})
    with pytest.raises(RulesetInvalid) as info:
        load_ruleset([base])
    assert not hasattr(info.value, "ruleset")


ADD_CONSTRAINT = "      - id: web-no-big"


def with_constraint(text: str) -> str:
    return PRODUCT.replace(ADD_CONSTRAINT, text + "\n" + ADD_CONSTRAINT)


EURO_CHILD = "format: 1\nkind: pricebook\nid: eur\ncurrency: EUR\nextends: list-usd\n"
DATED = 'SRV:\n    - {unit: "1000.00", effective: {from: 2026-01-01, to: 2026-06-30}}\n    - {unit: "1100.00", effective: {from: 2026-06-01}}'


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param({"pricebooks/b.yaml": EURO_CHILD},
                     "pricebooks/b.yaml:4:11: eur: currency EUR differs from USD of 'list-usd' it extends", id="currency_mismatch"),
        pytest.param({"pricebooks/a.yaml": BOOK.replace("USD", "USX")},
                     "pricebooks/a.yaml:4:11: list-usd: currency: unknown ISO 4217 currency 'USX'", id="unknown_currency"),
        pytest.param({"pricebooks/a.yaml": BOOK.replace('SRV: "1000.00"', DATED)},
                     "pricebooks/a.yaml:8:7: list-usd: prices for 'SRV' overlap in time (with line 7)", id="overlapping_dates"),
        pytest.param({"pricebooks/a.yaml": BOOK + "tax: {rates: {std: 8%}, default: standrd}\n"},
                     "pricebooks/a.yaml:16:34: list-usd: unknown tax rate 'standrd' (did you mean 'std'?)", id="unknown_tax_rate"),
        pytest.param({"pricebooks/a.yaml": BOOK.replace("currency: USD", "currency: USD\nextends: lst-usd")},
                     "pricebooks/a.yaml:5:10: list-usd: extends unknown pricebook 'lst-usd' (did you mean 'list-usd'?)", id="unknown_pricebook"),
        pytest.param({"pricebooks/a.yaml": BOOK.replace('"100.00"', '"1OO.00"')},
                     "pricebooks/a.yaml:7:10: CPU-A: '1OO.00' is not an amount", id="bad_amount"),
        pytest.param({"pricebooks/a.yaml": BOOK.replace("tiers: graduated", "tiers: block").replace('{from: 6, unit: "6.50"}', '{from: 6, to: 10, flat: "60.00"}')},
                     "pricebooks/a.yaml:11:7: list-usd: block tiers for 'CPU-B' end at 10: add an open last band or an 'overage' rate", id="block_without_overage"),
        pytest.param({"rules/a.yaml": with_constraint("      - id: tbl\n        table: {columns: [cpu, pwr], allowed: [[CPU-A, PSU-S]]}")},
                     "rules/a.yaml:26:32: tbl: table column 'pwr' is not a feature", id="table_unknown_column"),
        pytest.param({"rules/a.yaml": with_constraint("      - id: tbl\n        table: {columns: [cpu, psu], forbidden: [[CPU-A]]}")},
                     "rules/a.yaml:26:50: tbl: table row has 1 cells for 2 columns", id="table_short_row"),
        pytest.param({"rules/a.yaml": with_constraint("      - id: tbl\n        table: {columns: [cpu, psu], allowed: [[CPU-A, PSU-X]]}")},
                     "rules/a.yaml:26:56: tbl: 'PSU-X' is not an option of feature 'psu' (did you mean 'PSU-S'?)", id="table_unknown_cell"),
        pytest.param({"rules/a.yaml": with_constraint("      - id: crd\n        cardinality: {feature: cpux, min: 1}")},
                     "rules/a.yaml:26:32: crd: unknown feature 'cpux' (did you mean 'cpu'?)", id="unknown_feature"),
        pytest.param({"rules/a.yaml": PRODUCT.replace("        requires: {if: CPU-B, then: [PSU-L]}", "        requires: {if: CPU-B, then: [PSU-L]}\n        excludes: [CPU-A, CPU-B]")},
                     "rules/a.yaml:20:9: big-cpu-big-psu: a constraint has exactly one of requires, excludes, table, check, cardinality, then (found: requires, excludes)", id="two_forms"),
        pytest.param({"rules/a.yaml": PRODUCT.replace("    name: Server\n", "")},
                     "rules/a.yaml:13:3: SRV: missing required field 'name'", id="missing_field"),
        pytest.param({"rules/a.yaml": PRODUCT.replace("default: CPU-A", "default: CPU-C")},
                     "rules/a.yaml:16:81: SRV: default 'CPU-C' is not an option of feature 'cpu' (did you mean 'CPU-B'?)", id="bad_default"),
        pytest.param({"rules/a.yaml": PRODUCT + "    rules:\n      - {id: s1, kind: selection, when: CPU-B, set_default: {psu: CPU-A}}\n"},
                     "rules/a.yaml:29:67: s1: 'CPU-A' is not an option of feature 'psu' (did you mean 'PSU-S'?)", id="selection_default"),
        pytest.param({"rules/a.yaml": PRODUCT + "    rules:\n      - {id: f1, kind: filter, when: \"context.country == 'DE'\"}\n"},
                     "rules/a.yaml:29:9: f1: a filter rule needs 'hide'", id="filter_without_hide"),
        pytest.param({"rules/a.yaml": PRODUCT + "    components: {me: {product: SRV}}\n"},
                     "rules/a.yaml:13:3: SRV: bundle contains itself: SRV -> SRV", id="bundle_cycle"),
        pytest.param({"rules/a.yaml": PRODUCT.replace("    name: Server\n", "    name: Server\n    name: Other\n")},
                     "rules/a.yaml:15:5: servers: duplicate key 'name' (first at line 14)", id="duplicate_key"),
        pytest.param({"rules/a.yaml": PRODUCT.replace("quantity: {min: 1, max: 4}", "quantity: {min: 5, max: 4}")},
                     "rules/a.yaml:9:76: SSD-1: quantity min 5 exceeds max 4", id="quantity_range"),
        pytest.param({"rules/a.yaml": PRODUCT.replace("family: servers", "family: servers\ncolour: blue")},
                     "rules/a.yaml:4:1: servers: unknown field 'colour'", id="unknown_top_field"),
    ],
)
def test_each_kind_of_mistake_has_an_exact_message(write_files, files, expected):
    assert errors(write_files, {"rules/a.yaml": PRODUCT, "pricebooks/a.yaml": BOOK, **files}) == [expected]


def test_unknown_field_suggestions_come_from_the_fields_expected_there(write_files):
    bad = PRODUCT.replace("{label: Processor, min: 1,", "{label: Processor, mni: 1,")
    assert errors(write_files, {"rules/a.yaml": bad}) == [
        "rules/a.yaml:16:31: SRV: unknown field 'mni' (did you mean 'min'?)",
    ]


def test_a_folder_without_rule_files_is_an_error(write_files):
    base = write_files({"notes.txt": "nothing here"})
    with pytest.raises(RulesetInvalid) as info:
        load_ruleset([base])
    assert [str(e) for e in info.value.errors] == [f"{base}:1:1: -: no rule files (*.yaml) found"]


def test_same_priority_rules_for_different_families_do_not_clash(write_files):
    other = PRODUCT.replace("family: servers", "family: storage").replace("  SRV:\n", "  STO:\n")
    for old in ("CPU-A", "CPU-B", "SSD-1", "PSU-S", "PSU-L", "big-cpu-big-psu", "id: power", "web-no-big"):
        other = other.replace(old, old.replace("-", "X-") if old.startswith(("CPU", "SSD", "PSU")) else old + "-2")
    other = other.replace("id: power", "id: power-x")
    book = BOOK + ("adjustments:\n"
                   "  - {id: m-servers, applies_to: {families: [servers]}, discount: 18%, priority: 10}\n"
                   "  - {id: m-storage, applies_to: {families: [storage]}, discount: 15%, priority: 10}\n")
    base = write_files({"rules/a.yaml": PRODUCT, "rules/b.yaml": other, "pricebooks/b.yaml": book})
    ruleset = load_ruleset([base])
    assert [a.id for a in ruleset.pricebooks["list-usd"].adjustments] == ["m-servers", "m-storage"]


def test_an_unstacked_rule_clashes_with_an_inherited_rule_at_the_same_priority(write_files):
    parent = BOOK + "adjustments:\n  - {id: volume, discount: 5%, priority: 10, stack: compound}\n"
    child = ("format: 1\nkind: pricebook\nid: partner\nextends: list-usd\n"
             "adjustments:\n  - {id: margin, discount: 20%, priority: 10}\n")
    assert errors(write_files, {"rules/a.yaml": PRODUCT, "pricebooks/a.yaml": parent, "pricebooks/b.yaml": child}) == [
        "pricebooks/b.yaml:6:5: margin: 'margin' and 'volume' (inherited from 'list-usd') can apply to the same "
        "line at priority 10; give them different priorities or a 'stack' policy",
    ]


def test_every_bad_cell_of_a_table_is_reported(write_files):
    bad = with_constraint("      - id: tbl\n        table: {columns: [cpu, psu], allowed: [[CPU-X, PSU-X]]}")
    assert errors(write_files, {"rules/a.yaml": bad}) == [
        "rules/a.yaml:26:49: tbl: 'CPU-X' is not an option of feature 'cpu' (did you mean 'CPU-B'?)",
        "rules/a.yaml:26:56: tbl: 'PSU-X' is not an option of feature 'psu' (did you mean 'PSU-S'?)",
    ]


def test_unknown_family_in_applies_to_is_named_correctly(write_files):
    book = BOOK + "adjustments:\n  - {id: promo, applies_to: {families: [servrs]}, discount: 5%}\n"
    assert errors(write_files, {"rules/a.yaml": PRODUCT, "pricebooks/b.yaml": book}) == [
        "pricebooks/b.yaml:17:41: promo: applies_to names unknown family 'servrs' (did you mean 'servers'?)",
    ]


APPROVALS = "format: 1\nkind: approvals\nid: {id}\ndiscount_limits: {{sales: {v}}}\npolicies: []\n"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param({"rules/a.yaml": PRODUCT + "    rules:\n      - {id: al, kind: alert, when: CPU-B, message: hi, hide: [CPU-A]}\n"},
                     ["rules/a.yaml:29:9: al: an alert rule does not use 'hide'"], id="field_the_rule_kind_does_not_use"),
        pytest.param({"pricebooks/a.yaml": BOOK + "tax: {rates: {std: 8%}, default: std, categories: {hardwre: std}}\n"},
                     ["pricebooks/a.yaml:16:52: list-usd: tax category 'hardwre' is not a category of any product or "
                      "option (did you mean 'hardware'?)"], id="unknown_tax_category"),
        pytest.param({"pricebooks/a.yaml": BOOK.replace('{from: 6, unit: "6.50"}', '{from: 6, to: 10, unit: "6.50"}')},
                     ["pricebooks/a.yaml:12:9: list-usd: graduated tiers for 'CPU-B' end at 10: leave 'to' off the "
                      "last band so that every quantity has a price"], id="closed_graduated_tiers"),
        pytest.param({"pricebooks/a.yaml": BOOK + "adjustments:\n  - {id: p1, discount: 5%, priority: 1, stack: compound}\n"
                      "  - {id: p2, discount: 3%, priority: 1, stack: exclusive}\n"},
                     ["pricebooks/a.yaml:18:5: p2: 'p2' stacks 'exclusive' but 'p1' at the same priority 1 stacks "
                      "'compound'; one priority has one stacking policy"], id="two_stacking_policies_at_one_priority"),
        pytest.param({"rules/x.yaml": APPROVALS.format(id="ap-1", v="10%"), "rules/y.yaml": APPROVALS.format(id="ap-1", v="15%")},
                     ["rules/y.yaml:3:5: ap-1: duplicate approvals file id 'ap-1' (first defined at rules/x.yaml:3:5)",
                      "rules/y.yaml:4:19: ap-1: discount limit for 'sales' is already set at rules/x.yaml:4:19"],
                     id="approvals_files_that_disagree"),
        pytest.param({"rules/a.yaml": PRODUCT.replace("psu.capacity * 80%", "sum(drives.count) * 1")},
                     ["rules/a.yaml:23:41: power: 'drives.count' is already a total; use it outside sum()"],
                     id="count_inside_sum"),
    ],
)
def test_mistakes_found_in_review_of_the_format_are_load_errors(write_files, files, expected):
    assert errors(write_files, {"rules/a.yaml": PRODUCT, "pricebooks/a.yaml": BOOK, **files}) == expected


def test_an_invalid_option_id_says_which_id_and_why(write_files):
    lines = errors(write_files, {"rules/a.yaml": PRODUCT.replace("  PSU-L: {name", "  9PSU-L: {name")})
    assert "rules/a.yaml:11:3: servers: '9PSU-L' is not a valid id: ids start with a letter and use letters, " \
           "digits, '_' and single '-' between them" in lines


def test_a_cardinality_constraint_without_a_message_gets_one(write_files):
    text = with_constraint("      - id: one-cpu\n        cardinality: {feature: cpu, max: 1}")
    _, ruleset = load(write_files, {"rules/a.yaml": text})
    constraint = next(c for c in ruleset.products["SRV"].constraints if c.id == "one-cpu")
    assert constraint.message == "Choose at most 1 of CPU-A, CPU-B."


def test_a_book_without_rounding_inherits_the_policy_of_the_book_it_extends(write_files):
    parent = BOOK.replace("currency: USD", "currency: USD\nrounding: {mode: half_even, level: total}")
    child = "format: 1\nkind: pricebook\nid: partner\nextends: list-usd\nprices: {SRV: '900'}\n"
    partial = "format: 1\nkind: pricebook\nid: promo\nextends: partner\nrounding: {level: line}\nprices: {SRV: '800'}\n"
    _, ruleset = load(write_files, {"rules/a.yaml": PRODUCT, "pricebooks/a.yaml": parent,
                                    "pricebooks/b.yaml": child, "pricebooks/c.yaml": partial})
    books = ruleset.pricebooks
    assert (books["partner"].rounding_mode, books["partner"].rounding_level) == ("half_even", "total")
    assert (books["promo"].rounding_mode, books["promo"].rounding_level) == ("half_even", "line")


def test_a_loaded_ruleset_keeps_no_yaml_nodes_alive(write_files):
    """Regression: the shared scalar constructor remembered every node it built, for the process's life."""
    import gc

    import yaml

    _, ruleset = load(write_files, {"rules/servers.yaml": PRODUCT, "pricebooks/list.yaml": BOOK})
    assert ruleset.options["SSD-1"].quantity.max == 4  # integer scalars go through PyYAML's constructor
    assert not [o for o in gc.get_objects() if isinstance(o, yaml.Node)]


def test_a_large_load_is_frozen_and_still_freed_when_dropped(write_files, monkeypatch):
    """A large Ruleset is kept out of the collector's walks (gc.freeze); dropping it must still free it."""
    import gc
    import weakref

    from cpq.ruleset import loader

    monkeypatch.setattr(loader, "LARGE_INPUT", 0)  # every load counts as large
    base = write_files({"rules/servers.yaml": PRODUCT, "pricebooks/list.yaml": BOOK})
    try:
        ruleset = load_ruleset([base])
        assert gc.get_freeze_count() > 0
        frozen, held = gc.get_freeze_count(), weakref.ref(ruleset)
        loader._CACHE.clear()
        del ruleset
        assert held() is None  # freed by reference counting: a Ruleset holds no reference cycles
        assert gc.get_freeze_count() < frozen
    finally:
        gc.unfreeze()
