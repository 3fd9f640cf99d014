"""Static analysis: dead and core options, products with no valid configuration, redundant
constraints (SAT model) and price rules shadowed by an exclusive one (pricing program)."""

from __future__ import annotations

import pytest

from cpq.admin.analysis import analyse
from cpq.ruleset.loader import load_ruleset
from tests.conftest import SAMPLE_PATHS

KIOSK = """
format: 1
kind: product
family: kiosks
name: Kiosks
category: hardware
options:
  SCREEN-S: {name: Small screen}
  SCREEN-L: {name: Large screen}
  STAND-LOW: {name: Low stand}
  STAND-HIGH: {name: High stand}
  PRINTER: {name: Printer}
  CASE: {name: Case}
products:
  KIOSK:
    name: Kiosk
    features:
      screen: {label: Screen, min: 1, max: 1, options: [SCREEN-S, SCREEN-L]}
      stand: {label: Stand, min: 1, max: 1, options: [STAND-LOW, STAND-HIGH]}
      extras: {label: Extras, min: 0, max: 2, options: [PRINTER, CASE]}
    constraints:
      - id: large-needs-high-stand
        requires: {if: SCREEN-L, then: [STAND-HIGH]}
        message: A large screen stands high.
      - id: no-low-stand
        check: "not STAND-LOW"
        message: Low stands are out of stock.
      - id: printer-never
        requires: {if: PRINTER, then: [SCREEN-S]}
        message: The printer fits the small kiosk.
      - id: printer-not-small
        excludes: [PRINTER, SCREEN-S]
        message: The printer does not fit the small kiosk.
      - id: case-required
        check: "CASE"
        message: Every kiosk ships in a case.
      - id: large-needs-high-stand-again
        requires: {if: SCREEN-L, then: [STAND-HIGH]}
        message: Said twice.
"""

BOOK = """
format: 1
kind: pricebook
id: kiosk-list
currency: USD
effective: {from: 2026-01-01}
prices: {KIOSK: "100.00", SCREEN-S: "1.00", SCREEN-L: "2.00", STAND-LOW: "1.00", STAND-HIGH: "1.00",
         PRINTER: "1.00", CASE: "1.00"}
adjustments:
  - {id: house-price, price: "50.00", applies_to: {products: [KIOSK]}, priority: 5, stack: exclusive}
  - {id: kiosk-promo, discount: 10%, applies_to: {products: [KIOSK]}, priority: 10}
  - {id: screen-promo, discount: 10%, applies_to: {products: [SCREEN-S, KIOSK]}, priority: 20}
"""


@pytest.fixture
def kiosk(write_files):
    return load_ruleset([write_files({"rules/kiosk.yaml": KIOSK, "pricebooks/kiosk.yaml": BOOK})])


def no_stands(text: str) -> str:
    return text.replace('check: "not STAND-LOW"', 'check: "not STAND-LOW and not STAND-HIGH"')


def codes(findings, code):
    return sorted(f.rule_id for f in findings if f.code == code)


def test_an_option_no_valid_configuration_contains_is_dead(kiosk):
    # the printer needs the small screen and may not have it; the low stand is out of stock
    assert codes(analyse(kiosk), "dead_option") == ["PRINTER", "STAND-LOW"]


def test_an_option_every_configuration_contains_is_core_unless_its_feature_has_no_choice(kiosk):
    # the case is forced by a rule although 'extras' is optional; STAND-HIGH is forced by the rules too
    assert codes(analyse(kiosk), "core_option") == ["CASE", "STAND-HIGH"]


def test_a_constraint_the_others_imply_is_redundant(kiosk):
    # with the low stand gone every kiosk stands high, so "large needs high" decides nothing (twice)
    assert codes(analyse(kiosk), "redundant_constraint") == ["large-needs-high-stand", "large-needs-high-stand-again"]


def test_of_two_identical_constraints_only_the_second_is_named(write_files):
    text = KIOSK.replace('check: "not STAND-LOW"', 'check: "not PRINTER or CASE"')
    redundant = codes(analyse(load_ruleset([write_files({"rules/kiosk.yaml": text})])), "redundant_constraint")
    # 'not PRINTER or CASE' is implied by case-required; the twins imply each other: the first is named
    assert redundant == ["large-needs-high-stand", "no-low-stand"]


def test_an_adjustment_behind_an_unconditional_exclusive_one_is_shadowed(kiosk):
    findings = analyse(kiosk)
    # kiosk-promo only ever meets the kiosk, where house-price stops everything after it;
    # screen-promo still reaches SCREEN-S
    assert codes(findings, "shadowed_price_rule") == ["kiosk-promo"]
    (shadowed,) = [f for f in findings if f.code == "shadowed_price_rule"]
    assert (shadowed.path.endswith("pricebooks/kiosk.yaml"), shadowed.line) == (True, 10)


def test_a_product_whose_rules_contradict_has_no_valid_configuration_as_an_error(write_files):
    findings = analyse(load_ruleset([write_files({"rules/kiosk.yaml": no_stands(KIOSK)})]))
    (error,) = [f for f in findings if f.severity == "error"]
    assert (error.code, error.rule_id) == ("no_valid_configuration", "KIOSK")
    assert error.path.endswith("rules/kiosk.yaml")


def test_the_sample_catalog_has_no_errors_and_its_warnings_are_real():
    findings = analyse(load_ruleset(SAMPLE_PATHS))
    assert [f for f in findings if f.severity == "error"] == []
    # NIC-OCP-25G-2P has no quantity range, so at most one is ever chosen: the check repeats that
    assert "srv2u-one-ocp-adapter" in codes(findings, "redundant_constraint")
    # the licence quantity minimum (16 cores) already holds the platform's core minimum
    assert "vp-core-minimum" in codes(findings, "redundant_constraint")


def test_cpq_lint_shows_the_warnings_when_asked(cli):
    quiet = cli("lint", *SAMPLE_PATHS)
    loud = cli("lint", "--warnings", *SAMPLE_PATHS)
    assert quiet.exit_code == loud.exit_code == 0
    assert "redundant_constraint" not in quiet.output
    assert "rules/servers.yaml:233:9: srv2u-one-ocp-adapter: warning:" in loud.output


def test_cpq_lint_fails_on_a_product_with_no_valid_configuration(cli, write_files):
    result = cli("lint", str(write_files({"rules/kiosk.yaml": no_stands(KIOSK)})))
    assert result.exit_code == 1
    assert "KIOSK: product KIOSK has no valid configuration" in result.output
