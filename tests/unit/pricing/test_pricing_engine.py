"""price_quote on the golden catalog: resolution, explicit errors, approvals and the no-float rule."""

from __future__ import annotations

import decimal
import gc
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpq.errors import CPQError
from cpq.pricing.engine import price_quote
from cpq.pricing.errors import (
    CurrencyMismatch,
    FormulaError,
    InvalidQuote,
    NoPricebook,
    PriceNotFound,
    UnknownSku,
)
from cpq.pricing.lint import lint_pricebooks
from cpq.pricing.report import quote_as_json, render_table
from cpq.pricing.request import parse_quote
from cpq.ruleset.loader import load_ruleset

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "catalog"
TODAY = date(2026, 3, 1)


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset([GOLDEN])


def price(ruleset, body):
    request, context = parse_quote({"currency": "USD", "date": "2026-03-01", **body}, TODAY)
    return price_quote(ruleset, request, context)


def test_a_product_without_a_price_is_an_explicit_error_naming_product_books_and_date(ruleset):
    with pytest.raises(PriceNotFound) as info:
        price(ruleset, {"currency": "EUR", "lines": [{"product": "BOX", "options": [{"id": "CPU-8"}]}]})
    assert info.value.detail == "no price for 'CPU-8' in pricebooks gold-list-eur on 2026-03-01"
    assert info.value.extra["pricebooks"] == ["gold-list-eur"]
    assert info.value.status == 422


def test_a_date_before_every_book_has_no_pricebook(ruleset):
    with pytest.raises(NoPricebook, match="no pricebook in USD is in effect on 2025-12-31"):
        price(ruleset, {"date": "2025-12-31", "lines": [{"product": "BOX"}]})


def test_a_pricebook_asked_for_in_another_currency_is_a_currency_mismatch(ruleset):
    with pytest.raises(CurrencyMismatch):
        price(ruleset, {"pricebook": "gold-list-eur", "lines": [{"product": "BOX"}]})


def test_an_unknown_product_suggests_the_nearest_one(ruleset):
    with pytest.raises(UnknownSku, match="unknown product 'BOXX' \\(did you mean 'BOX'\\?\\)"):
        price(ruleset, {"lines": [{"product": "BOXX"}]})


def test_an_option_that_is_not_in_the_product_is_refused(ruleset):
    with pytest.raises(UnknownSku, match="'NOPE' is not an option of 'BOX'"):
        price(ruleset, {"lines": [{"product": "BOX", "options": [{"id": "NOPE"}]}]})


@pytest.mark.parametrize("body", [
    {"lines": []},
    {"lines": [{"product": "BOX", "quantity": 1.5}]},
    {"lines": [{"product": "BOX", "quantity": 0}]},
    {"lines": [{"product": "BOX", "discount": 0.05}]},
    {"lines": [{"product": "BOX", "discount": "150%"}]},
    {"lines": [{"product": "BOX"}], "surprise": 1},
    {"lines": [{"id": "a", "product": "BOX"}, {"id": "a", "product": "BOX"}]},
])
def test_bad_requests_are_invalid_quote_errors_with_field_messages(ruleset, body):
    with pytest.raises(InvalidQuote) as info:
        price(ruleset, body)
    assert info.value.status == 422 and info.value.extra["errors"]


def test_the_waterfall_of_every_item_starts_at_list_and_ends_at_its_net(ruleset):
    quote = price(ruleset, {"discount": "5%", "lines": [
        {"product": "BOX", "quantity": 3, "options": [{"id": "STACK-A"}, {"id": "FLOOR-X"}, {"id": "WIDGET", "quantity": 7},
                                                      {"id": "SUPPORT"}, {"id": "CPU-32"}]}]})
    for item in quote.lines[0].items:
        assert item.steps[0].kind == "list" and item.steps[0].before is None
        for a, b in zip(item.steps, item.steps[1:], strict=False):
            assert b.before == a.after
        assert item.steps[-1].after == item.net


def test_a_priced_quote_is_freed_as_soon_as_it_is_dropped(ruleset):
    """Regression: items, their condition environments and the pricer referred to each other, so every
    priced quote stayed behind as cyclic garbage until a collection of the older generations found it."""
    request, context = parse_quote({"currency": "USD", "date": "2026-03-01", "lines": [
        {"product": "BOX", "quantity": 3, "options": [{"id": "STACK-A"}, {"id": "SUPPORT"}]}]}, TODAY)
    price_quote(ruleset, request, context)  # compiles the pricing program once
    gc.collect()  # (parsing the request leaves marshmallow's schema cycles)
    gc.disable()
    try:
        quote = price_quote(ruleset, request, context)
        assert quote.lines[0].items
        del quote
        assert gc.collect() == 0  # nothing left for the cyclic collector: reference counting freed it all
    finally:
        gc.enable()


def test_the_text_table_shows_each_step_and_the_totals(ruleset):
    quote = price(ruleset, {"lines": [{"product": "BOX", "options": [{"id": "STACK-A"}]}]})
    text = render_table(quote)
    assert "compound-10" in text and "gold-list-usd.yaml:49" in text
    assert "Grand total" in text


def _no_floats(value, path="$"):
    if isinstance(value, float):
        raise AssertionError(f"float at {path}: {value!r}")
    if isinstance(value, dict):
        for k, v in value.items():
            _no_floats(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _no_floats(v, f"{path}[{i}]")


OPTIONS = ["WIDGET", "GADGET", "INSTALL", "POOLED", "CPU-8", "CPU-32", "OS-CORE", "SEAT", "SUPPORT", "CABLE",
           "PSU-HOT", "STACK-A", "STACK-B", "STACK-C", "STACK-D", "FLOOR-X", "FLOOR-Y", "ROUND-A", "ROUND-B"]


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(st.tuples(st.integers(1, 20), st.lists(st.tuples(st.sampled_from(OPTIONS), st.integers(1, 30)),
                                                            max_size=5, unique_by=lambda o: o[0])),
                   min_size=1, max_size=4),
    discount=st.sampled_from([None, "3%", "12.5%"]),
    channel=st.sampled_from([None, "partner"]),
    day=st.sampled_from(["2026-03-01", "2026-08-01"]),
)
def test_no_float_ever_reaches_a_price(ruleset, lines, discount, channel, day):
    """Every amount is Decimal inside and text outside; float arithmetic anywhere would trip the trap."""
    body = {"date": day, "account": {"id": "ACME"},
            "lines": [{"product": "BOX", "quantity": q, "options": [{"id": o, "quantity": n} for o, n in opts]}
                      for q, opts in lines]}
    if discount:
        body["discount"] = discount
    if channel:
        body["context"] = {"channel": channel, "partner": "PARTNERCO"}
    with decimal.localcontext() as ctx:
        ctx.traps[decimal.FloatOperation] = True  # mixing a float into Decimal arithmetic raises
        quote = price(ruleset, body)
    for line in quote.lines:
        for item in line.items:
            for amount in (item.list_amount, item.base, item.net, item.total):
                assert isinstance(amount, Decimal)
            for step in item.steps:
                assert isinstance(step.after, Decimal)
    _no_floats(quote_as_json(quote))


def test_price_errors_are_cpq_errors_the_api_turns_into_problems(ruleset):
    with pytest.raises(CPQError):
        price(ruleset, {"lines": [{"product": "BOXX"}]})


def test_lint_reports_dead_rules_unsold_skus_and_missing_list_prices(write_files):
    base = write_files({
        "rules/p.yaml": """
            format: 1
            kind: product
            family: f
            category: hardware
            options:
              A: {name: A}
              B: {name: B}
              LONELY: {name: Sold by no product}
            products:
              P: {name: P, features: {x: {min: 0, max: 2, options: [A, B]}}}
        """,
        "pricebooks/list.yaml": """
            format: 1
            kind: pricebook
            id: list
            currency: USD
            effective: {from: 2026-01-01, to: 2026-12-31}
            prices:
              P: "1.00"
              LONELY: "1.00"
              A: "2.00"
              B:
                - {unit: "1.00", effective: {to: 2026-05-31}}
                - {unit: "1.00", effective: {from: 2026-07-01}}
            adjustments:
              - {id: old-promo, discount: 5%, effective: {from: 2025-01-01, to: 2025-12-31}}
              - {id: impossible, discount: 5%, priority: 2, when: "quote.term_months >= 60 and quote.term_months < 36"}
              - {id: two-segments, discount: 5%, priority: 3, when: "account.segment == 'a' and account.segment == 'b'"}
        """,
    })
    ruleset = load_ruleset([base])
    messages = [f"{rule}: {message}" for _source, rule, message in lint_pricebooks(ruleset)]
    assert "old-promo: never fires: its dates do not overlap the dates of pricebook 'list'" in messages
    assert "impossible: never fires: the bounds on quote.term_months contradict each other" in messages
    assert any(m.startswith("two-segments: never fires: account.segment cannot equal both") for m in messages)
    assert "list: price for 'LONELY', which no product sells" in messages
    assert "list: 'B' has no price on 2026-06-01" in messages


def _product_p_and_list_book(write_files, adjustments: str):
    """A Ruleset of one product P (option A) and a USD list book (P 100.00, A 10.00) with `adjustments`."""
    base = write_files({
        "rules/p.yaml": """
            format: 1
            kind: product
            family: f
            category: hardware
            options:
              A: {name: A}
            products:
              P: {name: P, features: {x: {min: 0, max: 1, options: [A]}}}
        """,
        "pricebooks/list.yaml": """
            format: 1
            kind: pricebook
            id: list
            currency: USD
            effective: {from: 2026-01-01}
            prices:
              P: "100.00"
              A: "10.00"
            adjustments:""" + "\n" + textwrap.indent(textwrap.dedent(adjustments).strip("\n"), " " * 14) + "\n",
    })
    return load_ruleset([base])


def _price_p(ruleset, quantity: int, options=(), context=None):
    request, ctx = parse_quote({"currency": "USD", "date": "2026-03-01", "context": context or {},
                                "lines": [{"product": "P", "quantity": quantity,
                                           "options": [{"id": o} for o in options]}]}, TODAY)
    return price_quote(ruleset, request, ctx)


def test_quote_wide_rules_follow_each_quote_when_quotes_alternate(write_files):
    """The rules merged into a SKU's candidates are kept per set of quote-wide rules that held: a
    quote from another country, then one from the first country again, each get their own rules."""
    ruleset = _product_p_and_list_book(write_files, """
        - {id: de-promo, when: "context.country == 'DE'", discount: 10%, priority: 5}
        - {id: fr-promo, when: "context.country == 'FR'", discount: 20%, priority: 4}
        - {id: big, when: "quote.list_total >= 500", amount_off: "1.00", priority: 6}
    """)

    def rules_applied(country, quantity=1):
        quote = _price_p(ruleset, quantity, ["A"], {"country": country})
        return [[s.rule_id for s in item.steps if s.kind == "adjustment"] for item in quote.lines[0].items]

    for _ in range(2):
        assert rules_applied("DE") == [["de-promo"], ["de-promo"]]
        assert rules_applied("FR") == [["fr-promo"], ["fr-promo"]]
        assert rules_applied("US") == [[], []]
        assert rules_applied("FR", quantity=5) == [["fr-promo", "big"], ["fr-promo", "big"]]


def test_an_option_listed_twice_in_one_line_is_refused_by_name(ruleset):
    with pytest.raises(InvalidQuote, match="line 1: option 'CPU-8' is listed twice"):
        price(ruleset, {"lines": [{"id": "1", "product": "BOX", "options": [
            {"id": "CPU-8"}, {"id": "WIDGET"}, {"id": "CPU-8", "quantity": 2}]}]})


def test_a_rule_condition_that_divides_by_zero_names_the_rule_instead_of_crashing(write_files):
    ruleset = _product_p_and_list_book(write_files, """
        - {id: per-extra-unit, when: "100 / (line.quantity - 1) < 30", discount: 10%}
    """)
    assert [s.rule_id for s in _price_p(ruleset, 5).lines[0].items[0].steps] == ["list", "per-extra-unit"]
    with pytest.raises(FormulaError, match=r"the condition of 'per-extra-unit' \(.*list.yaml:.*\) divides by zero"):
        _price_p(ruleset, 1)


def test_bundle_attributes_in_a_formula_count_only_the_options_of_its_own_bundle(write_files):
    """A per-core licence sums the cores chosen in its own bundle, times their quantity: a kit's
    licence does not count the processors of the servers it holds as components, and a server's
    licence counts only its own processors."""
    ruleset = load_ruleset([write_files({
        "rules/kit.yaml": """
            format: 1
            kind: product
            family: f
            category: hardware
            attributes:
              cores: integer
            options:
              CPU-8: {name: CPU 8, attributes: {cores: 8}}
              CPU-32: {name: CPU 32, attributes: {cores: 32}}
              LIC: {name: Per-core licence}
            products:
              SRV: {name: Server, features: {cpu: {min: 0, max: 2, quantity: true, options: [CPU-8, CPU-32]},
                                             lic: {min: 0, max: 1, options: [LIC]}}}
              KIT:
                name: Kit
                components:
                  server: {product: SRV, min: 1, max: 4, default: 1}
                features: {cpu: {min: 0, max: 1, quantity: true, options: [CPU-8]},
                           lic: {min: 0, max: 1, options: [LIC]}}
        """,
        "pricebooks/list.yaml": """
            format: 1
            kind: pricebook
            id: list
            currency: USD
            effective: {from: 2026-01-01}
            prices:
              SRV: "100.00"
              KIT: "50.00"
              CPU-8: "10.00"
              CPU-32: "30.00"
              LIC: {formula: "bundle.cores * 2.00"}
        """,
    })])
    request, ctx = parse_quote({"currency": "USD", "date": "2026-03-01", "lines": [{
        "product": "KIT", "quantity": 1, "options": [{"id": "CPU-8"}, {"id": "LIC"}],
        "components": [{"id": "server", "quantity": 2,
                        "options": [{"id": "CPU-32", "quantity": 2}, {"id": "CPU-8"}, {"id": "LIC"}]}]}]}, TODAY)
    items = price_quote(ruleset, request, ctx).lines[0].items
    licences = [(i.role == "option" and i.bundles, i.net) for i in items if i.sku == "LIC"]
    # the kit's licence: its own CPU-8 only (8 cores × 2.00); each of the 2 servers: 2 × 32 + 8 = 72
    # cores × 2.00 = 144.00, times 2 servers
    assert licences == [(1, Decimal("16.00")), (2, Decimal("288.00"))]
